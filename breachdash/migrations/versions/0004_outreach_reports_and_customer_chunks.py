"""outreach reports and customer chunks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 16:04:15.617035
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_customer_chunks_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_chunks'))
    )
    with op.batch_alter_table('customer_chunks', schema=None) as batch_op:
        batch_op.create_index('ix_customer_chunks_lookup', ['incident_id', 'kind', 'bucket'], unique=False)

    op.create_table('delivery_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('customers', sa.BigInteger(), nullable=False),
    sa.Column('first_event_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_event_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('states_changed', sa.BigInteger(), nullable=False),
    sa.Column('imported_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_delivery_reports_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_reports')),
    sa.UniqueConstraint('incident_id', 'sha256', name='uq_delivery_reports_file')
    )
    with op.batch_alter_table('delivery_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_reports_incident_id'), ['incident_id'], unique=False)

    op.create_table('inquiry_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('mailbox', sa.BigInteger(), nullable=False),
    sa.Column('call_capacity', sa.BigInteger(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('updated_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_inquiry_days_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry_days')),
    sa.UniqueConstraint('incident_id', 'day', name='uq_inquiry_days_day')
    )
    with op.batch_alter_table('inquiry_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiry_days_incident_id'), ['incident_id'], unique=False)

    op.create_table('outreach_states',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('affected_revision_id', sa.Integer(), nullable=True),
    sa.Column('customers_tracked', sa.BigInteger(), nullable=False),
    sa.Column('reconciliation', sa.JSON(), nullable=False),
    sa.Column('computed_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('computed_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_outreach_states_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_outreach_states'))
    )
    op.create_table('outreach_hourly',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('phase_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('hour', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent', sa.BigInteger(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.Column('bounced', sa.BigInteger(), nullable=False),
    sa.Column('replied', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_outreach_hourly_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['phase_id'], ['comms_phases.id'], name=op.f('fk_outreach_hourly_phase_id_comms_phases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_hourly'))
    )
    with op.batch_alter_table('outreach_hourly', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outreach_hourly_incident_id'), ['incident_id'], unique=False)

    with op.batch_alter_table('outreach_counts', schema=None) as batch_op:
        # Existing rows were all typed in by hand.
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False,
                                      server_default='entered'))
        batch_op.add_column(sa.Column('failed', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.drop_constraint(batch_op.f('uq_outreach_cell'), type_='unique')
        batch_op.create_unique_constraint('uq_outreach_cell', ['phase_id', 'channel', 'region', 'segment', 'source'])



def downgrade() -> None:
    with op.batch_alter_table('outreach_counts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_outreach_cell', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_outreach_cell'), ['phase_id', 'channel', 'region', 'segment'])
        batch_op.drop_column('failed')
        batch_op.drop_column('source')

    with op.batch_alter_table('outreach_hourly', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outreach_hourly_incident_id'))

    op.drop_table('outreach_hourly')
    op.drop_table('outreach_states')
    with op.batch_alter_table('inquiry_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inquiry_days_incident_id'))

    op.drop_table('inquiry_days')
    with op.batch_alter_table('delivery_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_reports_incident_id'))

    op.drop_table('delivery_reports')
    with op.batch_alter_table('customer_chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_chunks_lookup')

    op.drop_table('customer_chunks')
