"""regulatory clocks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:20:46.396931
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breach_determined_at', breachdash.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('materiality_determined_at', breachdash.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assessment_completed_at', breachdash.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('classified_major_at', breachdash.common.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('obligations', schema=None) as batch_op:
        # Obligations recorded before the rules engine were all entered by hand.
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False,
                                      server_default='manual'))
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('clock_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('applies_since', breachdash.common.UTCDateTime(timezone=True), nullable=True))

    # Sector flags took the rules' vocabulary (data/notification_rules.csv, sector_condition).
    renamed = {"financial_entity": "eu_financial_entity", "essential_entity": "nis2_entity"}
    incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("sector_flags", sa.JSON))
    connection = op.get_bind()
    for incident_id, flags in connection.execute(sa.select(incidents.c.id, incidents.c.sector_flags)).all():
        if any(flag in renamed for flag in flags or []):
            connection.execute(incidents.update().where(incidents.c.id == incident_id).values(
                sector_flags=[renamed.get(flag, flag) for flag in flags]))



def downgrade() -> None:
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_column('applies_since')
        batch_op.drop_column('clock_note')
        batch_op.drop_column('flags')
        batch_op.drop_column('source')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('classified_major_at')
        batch_op.drop_column('assessment_completed_at')
        batch_op.drop_column('materiality_determined_at')
        batch_op.drop_column('breach_determined_at')

