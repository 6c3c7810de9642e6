"""sign-in failures, to slow password guessing

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('failed_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_email'), ['email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_email'))
    op.drop_table('sign_in_failures')
