"""model services: the protocol the gateway speaks to an external upstream (http1 or h2c)

Revision ID: inference_0005
Revises: inference_0002
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inference_0005"
down_revision: str | None = "inference_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_services") as batch:
        batch.add_column(
            sa.Column("upstream_protocol", sa.String(length=8), nullable=False, server_default="http1")
        )


def downgrade() -> None:
    with op.batch_alter_table("model_services") as batch:
        batch.drop_column("upstream_protocol")
