"""model services, replicas and their events

Revision ID: inference_0002
Revises:
Create Date: 2026-11-29 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "inference_0002"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("inference_services",)
depends_on: str | Sequence[str] | None = "0001"


def upgrade() -> None:
    op.create_table(
        "model_services",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("served_model_name", sa.String(length=200), nullable=False),
        sa.Column("model_dir", sa.Text(), nullable=True),
        sa.Column("upstream_url", sa.Text(), nullable=True),
        sa.Column("upstream_model", sa.String(length=200), nullable=True),
        sa.Column("upstream_api_key", sa.Text(), nullable=True),
        sa.Column("upstream_key_id", sa.String(length=64), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=63), nullable=False),
        sa.Column("engine_args", sa.JSON(), nullable=False),
        sa.Column("desired_replicas", sa.Integer(), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("autoscaling", sa.JSON(), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_model_services_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_model_services_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_services")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_model_services_tenant_id")),
    )
    with op.batch_alter_table("model_services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_services_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_services_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_services_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "model_replicas",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("api_base", sa.Text(), nullable=False),
        sa.Column("health_url", sa.Text(), nullable=False),
        sa.Column("metrics_url", sa.Text(), nullable=True),
        sa.Column("node", sa.String(length=63), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("started_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ready_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_check_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("health_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["model_services.id"],
            name=op.f("fk_model_replicas_service_id_model_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_model_replicas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_replicas")),
        sa.UniqueConstraint("service_id", "ordinal", name=op.f("uq_model_replicas_service_id")),
    )
    with op.batch_alter_table("model_replicas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_replicas_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_replicas_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_replicas_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_replicas_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "model_service_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("time", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["model_services.id"],
            name=op.f("fk_model_service_events_service_id_model_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_model_service_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_service_events")),
    )
    with op.batch_alter_table("model_service_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_service_events_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_service_events_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_service_events_time"), ["time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("model_service_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_service_events_time"))
        batch_op.drop_index(batch_op.f("ix_model_service_events_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_model_service_events_service_id"))
    op.drop_table("model_service_events")
    with op.batch_alter_table("model_replicas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_replicas_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_model_replicas_state"))
        batch_op.drop_index(batch_op.f("ix_model_replicas_service_id"))
        batch_op.drop_index(batch_op.f("ix_model_replicas_job_id"))
    op.drop_table("model_replicas")
    with op.batch_alter_table("model_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_services_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_model_services_state"))
        batch_op.drop_index(batch_op.f("ix_model_services_project_id"))
    op.drop_table("model_services")
