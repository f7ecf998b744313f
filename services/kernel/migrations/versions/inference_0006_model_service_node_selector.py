"""model services: node selector passed to every replica's scheduler job

Revision ID: inference_0006
Revises: inference_0005
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inference_0006"
down_revision: str | None = "inference_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_services") as batch:
        batch.add_column(sa.Column("node_selector", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("model_services") as batch:
        batch.drop_column("node_selector")
