"""approver changes: proposals to change who must sign a phase (the two-person rule)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approver_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phase_id', sa.Integer(), nullable=False),
    sa.Column('from_roles', sa.JSON(), nullable=False),
    sa.Column('to_roles', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('proposed_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('proposer_roles', sa.JSON(), nullable=False),
    sa.Column('proposed_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('decided_at', breachdash.common.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['phase_id'], ['comms_phases.id'], name=op.f('fk_approver_changes_phase_id_comms_phases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approver_changes'))
    )
    with op.batch_alter_table('approver_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approver_changes_phase_id'), ['phase_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('approver_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approver_changes_phase_id'))
    op.drop_table('approver_changes')
