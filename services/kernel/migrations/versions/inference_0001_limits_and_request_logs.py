"""inference gateway: per-key rate limits and masked request logs

Revision ID: inference_0001
Revises:
Create Date: 2026-11-29 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "inference_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("inference_logs",)
depends_on: str | Sequence[str] | None = "0001"


def upgrade() -> None:
    op.create_table('inference_request_logs',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('principal_id', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=True),
    sa.Column('route_id', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('replica_id', sa.String(length=64), nullable=True),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('stream', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('error_type', sa.String(length=64), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('ttft_ms', sa.Float(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('request_body', sa.JSON(), nullable=False),
    sa.Column('response_text', sa.Text(), nullable=True),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('created_at', services.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inference_request_logs'))
    )
    with op.batch_alter_table('inference_request_logs', schema=None) as batch_op:
        batch_op.create_index('ix_inference_request_logs_route_variant', ['route_id', 'variant'], unique=False)
        batch_op.create_index(batch_op.f('ix_inference_request_logs_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inference_request_logs_status_code'), ['status_code'], unique=False)
        batch_op.create_index('ix_inference_request_logs_tenant_created', ['tenant_id', 'created_at'], unique=False)
    
    op.create_table('inference_rate_limits',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=True),
    sa.Column('rpm', sa.Integer(), nullable=True),
    sa.Column('tpm', sa.Integer(), nullable=True),
    sa.Column('max_concurrency', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_inference_rate_limits_key_id_api_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inference_rate_limits_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inference_rate_limits')),
    sa.UniqueConstraint('tenant_id', 'subject', name=op.f('uq_inference_rate_limits_tenant_id'))
    )
    with op.batch_alter_table('inference_rate_limits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inference_rate_limits_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inference_rate_limits_tenant_id'), ['tenant_id'], unique=False)
    


def downgrade() -> None:
    with op.batch_alter_table('inference_rate_limits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inference_rate_limits_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_inference_rate_limits_key_id'))
    
    op.drop_table('inference_rate_limits')
    with op.batch_alter_table('inference_request_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_inference_request_logs_tenant_created')
        batch_op.drop_index(batch_op.f('ix_inference_request_logs_status_code'))
        batch_op.drop_index(batch_op.f('ix_inference_request_logs_service_id'))
        batch_op.drop_index('ix_inference_request_logs_route_variant')
    
    op.drop_table('inference_request_logs')
