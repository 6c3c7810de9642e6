"""sign-offs: a person may re-confirm the same text after the facts changed (one sign-off per
version, signer, role and facts revision instead of one per version, signer and role)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sign_offs_once', type_='unique')
        batch_op.create_unique_constraint('uq_sign_offs_once_per_facts',
                                          ['message_version_id', 'signer', 'role', 'facts_revision_seq'])


def downgrade() -> None:
    # Re-confirmations cannot survive the older rule: keep each person's latest decision per role.
    op.execute("DELETE FROM sign_offs WHERE id NOT IN (SELECT max(id) FROM sign_offs "
               "GROUP BY message_version_id, signer, role)")
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sign_offs_once_per_facts', type_='unique')
        batch_op.create_unique_constraint('uq_sign_offs_once', ['message_version_id', 'signer', 'role'])
