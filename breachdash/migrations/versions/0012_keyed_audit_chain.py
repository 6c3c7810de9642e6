"""keyed audit chain: hash_alg and row_digests on audit_events

Events already in the table are the old unkeyed SHA-256 chain ("sha256"). Nothing is re-hashed on
the way up (that needs the key, and rewriting history is what the chain exists to show): the
first keyed write, or `python -m breachdash rekey-audit`, appends a keyed seal that records the
unkeyed prefix's length and head, and every event after it is HMAC-SHA256.

Down: the older code only checks plain SHA-256, so the keyed events are first verified with the
configured key (refused if they do not verify: a downgrade must not launder an edit), then the
whole chain is re-hashed as plain SHA-256 without the row digests.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('row_digests', sa.Text(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('hash_alg', sa.String(length=20), server_default='sha256', nullable=False))


def downgrade() -> None:
    from breachdash.audit.rules import UNKEYED, ChainWalk, chain_hash, first_break
    from breachdash.config import load_audit_key

    connection = op.get_bind()
    table = sa.table('audit_events', *(sa.column(name) for name in (
        'id', 'occurred_at', 'actor', 'action', 'entity_type', 'entity_id', 'incident_id', 'before_json',
        'after_json', 'row_digests', 'hash_alg', 'prev_hash', 'hash')))
    from breachdash.audit.models import AuditEvent

    typed = AuditEvent.__table__
    rows = connection.execute(sa.select(typed).order_by(typed.c.id)).all()
    if any(row.hash_alg != UNKEYED for row in rows):
        broken = first_break(rows, key=load_audit_key().secret, walk=ChainWalk())
        if broken is not None:
            raise RuntimeError(f"The audit chain is broken at {broken}; not downgrading.")
        prev = "0" * 64
        for row in rows:
            digest = chain_hash(prev_hash=prev, occurred_at=row.occurred_at, actor=row.actor, action=row.action,
                                entity_type=row.entity_type, entity_id=row.entity_id, incident_id=row.incident_id,
                                before_json=row.before_json, after_json=row.after_json)
            connection.execute(table.update().where(table.c.id == row.id).values(prev_hash=prev, hash=digest))
            prev = digest
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('hash_alg')
        batch_op.drop_column('row_digests')
