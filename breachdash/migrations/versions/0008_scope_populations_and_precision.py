"""scope populations, published figure kinds, protection states, milestone precisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:10:00

Every incident with revisions gets one population, "all", holding them; its label is the old
revisions' scope label ("all" becomes "All affected"). A revision whose low = best = high
becomes an exact figure, others a range. Every stored breakdown count was exact and plain.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import breachdash.common


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scope_populations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('jurisdictions', sa.JSON(), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('disjoint', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('updated_at', breachdash.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_scope_populations_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scope_populations')),
    sa.UniqueConstraint('incident_id', 'key', name='uq_scope_populations_incident_key')
    )
    with op.batch_alter_table('scope_populations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scope_populations_incident_id'), ['incident_id'], unique=False)

    connection = op.get_bind()
    revisions = sa.table("scope_revisions", sa.column("id", sa.Integer), sa.column("incident_id", sa.Integer),
                         sa.column("seq", sa.Integer), sa.column("unit", sa.String), sa.column("scope_label", sa.String),
                         sa.column("recorded_at", breachdash.common.UTCDateTime(timezone=True)),
                         sa.column("recorded_by", sa.String), sa.column("population_id", sa.Integer),
                         sa.column("low", sa.BigInteger), sa.column("best", sa.BigInteger),
                         sa.column("high", sa.BigInteger), sa.column("figure_kind", sa.String))
    populations = sa.table("scope_populations", sa.column("id", sa.Integer), sa.column("incident_id", sa.Integer),
                           sa.column("key", sa.String), sa.column("label", sa.String),
                           sa.column("jurisdictions", sa.JSON), sa.column("unit", sa.String),
                           sa.column("disjoint", sa.Boolean), sa.column("position", sa.Integer),
                           sa.column("created_at", breachdash.common.UTCDateTime(timezone=True)),
                           sa.column("created_by", sa.String),
                           sa.column("updated_at", breachdash.common.UTCDateTime(timezone=True)),
                           sa.column("updated_by", sa.String), sa.column("version", sa.Integer))

    with op.batch_alter_table('scope_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('population_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('figure_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='range'))
        batch_op.add_column(sa.Column('wording', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('sources', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.alter_column('low', existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column('best', existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column('high', existing_type=sa.BigInteger(), nullable=True)

    firsts = connection.execute(
        sa.select(revisions.c.incident_id, revisions.c.scope_label, revisions.c.recorded_at, revisions.c.recorded_by,
                  revisions.c.seq).order_by(revisions.c.incident_id, revisions.c.seq)).all()
    seen: dict[int, int] = {}
    for incident_id, label, recorded_at, recorded_by, _seq in firsts:
        if incident_id in seen:
            continue
        latest_unit = connection.execute(
            sa.select(revisions.c.unit).where(revisions.c.incident_id == incident_id)
            .order_by(revisions.c.seq.desc()).limit(1)).scalar_one()
        result = connection.execute(populations.insert().values(
            incident_id=incident_id, key="all", label="All affected" if label in (None, "", "all") else label[:100],
            jurisdictions=[], unit=latest_unit, disjoint=False, position=0, created_at=recorded_at,
            created_by=recorded_by, updated_at=recorded_at, updated_by=recorded_by, version=1))
        seen[incident_id] = result.inserted_primary_key[0]
    for incident_id, population_id in seen.items():
        connection.execute(revisions.update().where(revisions.c.incident_id == incident_id)
                           .values(population_id=population_id))
    connection.execute(revisions.update().where(revisions.c.low == revisions.c.best,
                                                revisions.c.best == revisions.c.high).values(figure_kind="exact"))

    with op.batch_alter_table('scope_revisions', schema=None) as batch_op:
        batch_op.alter_column('population_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_scope_revisions_population_id'), ['population_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_scope_revisions_population_id_scope_populations'),
                                    'scope_populations', ['population_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_column('scope_label')

    with op.batch_alter_table('scope_data_type_counts', schema=None) as batch_op:
        batch_op.alter_column('count', existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column('count_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='exact'))
        batch_op.add_column(sa.Column('protection', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False,
                                      server_default='plain'))
    with op.batch_alter_table('scope_region_counts', schema=None) as batch_op:
        batch_op.alter_column('count', existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column('count_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='exact'))

    incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("intrusion_start_precision", sa.String),
                         sa.column("milestone_precisions", sa.JSON))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_announced_at', breachdash.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('regulator_first_notified_at', breachdash.common.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('milestone_precisions', sa.JSON(), nullable=False, server_default='{}'))
    for incident_id, precision in connection.execute(
            sa.select(incidents.c.id, incidents.c.intrusion_start_precision)).all():
        if precision and precision != "exact":
            connection.execute(incidents.update().where(incidents.c.id == incident_id)
                               .values(milestone_precisions={"intrusion_started_at": precision}))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('intrusion_start_precision')


def downgrade() -> None:
    """Lossy by necessity: a figure without a number becomes 0 and the population's label becomes
    the revision's scope label. Take a backup first (python -m breachdash backup FILE)."""
    connection = op.get_bind()
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intrusion_start_precision', sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=False, server_default='exact'))
    incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("intrusion_start_precision", sa.String),
                         sa.column("milestone_precisions", sa.JSON))
    for incident_id, precisions in connection.execute(sa.select(incidents.c.id, incidents.c.milestone_precisions)).all():
        precision = (precisions or {}).get("intrusion_started_at", "exact")
        connection.execute(incidents.update().where(incidents.c.id == incident_id)
                           .values(intrusion_start_precision="day" if precision == "month" else precision))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('milestone_precisions')
        batch_op.drop_column('regulator_first_notified_at')
        batch_op.drop_column('public_announced_at')

    for table in ('scope_region_counts', 'scope_data_type_counts'):
        connection.execute(sa.text(f"UPDATE {table} SET count = 0 WHERE count IS NULL"))
    with op.batch_alter_table('scope_region_counts', schema=None) as batch_op:
        batch_op.drop_column('count_kind')
        batch_op.alter_column('count', existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table('scope_data_type_counts', schema=None) as batch_op:
        batch_op.drop_column('protection')
        batch_op.drop_column('count_kind')
        batch_op.alter_column('count', existing_type=sa.BigInteger(), nullable=False)

    with op.batch_alter_table('scope_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                      server_default='all'))
    connection.execute(sa.text(
        "UPDATE scope_revisions SET scope_label = (SELECT p.label FROM scope_populations p "
        "WHERE p.id = scope_revisions.population_id)"))
    connection.execute(sa.text("UPDATE scope_revisions SET high = COALESCE(high, best, low, 0)"))
    connection.execute(sa.text("UPDATE scope_revisions SET best = COALESCE(best, high)"))
    connection.execute(sa.text("UPDATE scope_revisions SET low = COALESCE(low, 0)"))
    with op.batch_alter_table('scope_revisions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scope_revisions_population_id_scope_populations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_scope_revisions_population_id'))
        batch_op.drop_column('population_id')
        batch_op.drop_column('sources')
        batch_op.drop_column('wording')
        batch_op.drop_column('figure_kind')
        batch_op.alter_column('low', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('best', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('high', existing_type=sa.BigInteger(), nullable=False)

    with op.batch_alter_table('scope_populations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scope_populations_incident_id'))
    op.drop_table('scope_populations')
