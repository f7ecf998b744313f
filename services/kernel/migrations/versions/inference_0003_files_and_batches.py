"""inference files and batches

Revision ID: inference_0003
Revises:
Create Date: 2026-11-29 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "inference_0003"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("inference_batches",)
depends_on: str | Sequence[str] | None = "0001"


def upgrade() -> None:
    op.create_table(
        "inference_files",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("data_key", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inference_files_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inference_files")),
    )
    with op.batch_alter_table("inference_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inference_files_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "inference_batches",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=32), nullable=False),
        sa.Column("input_file_id", sa.String(length=64), nullable=False),
        sa.Column("completion_window", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_metadata", sa.JSON(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("output_file_id", sa.String(length=64), nullable=True),
        sa.Column("error_file_id", sa.String(length=64), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("runner_key_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("expires_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("in_progress_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finalizing_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelling_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_inference_batches_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inference_batches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inference_batches")),
    )
    with op.batch_alter_table("inference_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inference_batches_input_file_id"), ["input_file_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inference_batches_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inference_batches_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_inference_batches_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "inference_batch_results",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("custom_id", sa.String(length=512), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["inference_batches.id"],
            name=op.f("fk_inference_batch_results_batch_id_inference_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inference_batch_results_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inference_batch_results")),
        sa.UniqueConstraint("batch_id", "custom_id", name=op.f("uq_inference_batch_results_batch_id")),
    )
    with op.batch_alter_table("inference_batch_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inference_batch_results_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inference_batch_results_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inference_batch_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inference_batch_results_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_inference_batch_results_batch_id"))
    op.drop_table("inference_batch_results")
    with op.batch_alter_table("inference_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inference_batches_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_inference_batches_status"))
        batch_op.drop_index(batch_op.f("ix_inference_batches_project_id"))
        batch_op.drop_index(batch_op.f("ix_inference_batches_input_file_id"))
    op.drop_table("inference_batches")
    with op.batch_alter_table("inference_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inference_files_tenant_id"))
    op.drop_table("inference_files")
