"""gateway routes (traffic splits and model chains)

Revision ID: inference_0004
Revises:
Create Date: 2026-11-29 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "inference_0004"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("inference_routes",)
depends_on: str | Sequence[str] | None = "0001"


def upgrade() -> None:
    op.create_table(
        "inference_routes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_inference_routes_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inference_routes")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_inference_routes_tenant_id")),
    )
    with op.batch_alter_table("inference_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inference_routes_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inference_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inference_routes_tenant_id"))
    op.drop_table("inference_routes")
