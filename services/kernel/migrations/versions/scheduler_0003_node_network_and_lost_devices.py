"""scheduler: node network figures and verdict, accelerators reported lost

Revision ID: scheduler_0003
Revises: scheduler_0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scheduler_0003"
down_revision: str | None = "scheduler_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sched_nodes") as batch:
        batch.add_column(sa.Column("network", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("network_slow", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("network_verdict", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("lost_devices", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("sched_nodes") as batch:
        batch.drop_column("lost_devices")
        batch.drop_column("network_verdict")
        batch.drop_column("network_slow")
        batch.drop_column("network")
