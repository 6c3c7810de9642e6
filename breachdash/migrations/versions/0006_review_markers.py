"""review markers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:03:11.387260
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('review_markers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('started_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_review_markers_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_markers'))
    )
    with op.batch_alter_table('review_markers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_markers_incident_id'), ['incident_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('review_markers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_markers_incident_id'))

    op.drop_table('review_markers')

