"""stage limits on cases: the running step limit lives on the case row, written to deadlines when it ends

A step used to open a deadlines row for the stage it entered and close the row of the stage it left: two
row writes (and their index entries) in every transaction besides the case row and the timeline entry.
Since 0006 the running (or paused) step limit is kept in the case row's ``stage_*`` columns, which a step
writes anyway, and its deadlines row is inserted once, complete, when the stage ends
(docs/design/stage-limits.md). The whole case's limit stays a deadlines row.

Upgrade copies each case's running or paused step limit onto its case row (``stage_row_id`` keeps the
row's id: the alerts raised about it name it, and it is written again with that id when it ends) and
deletes that row. ``alerts.deadline_id`` loses its foreign key for that reason (the alert ledger commits to
the id, so it is never rewritten). Downgrade writes the stages back as rows and drops the columns.
On SQLite batch mode copies ``alerts`` (and ``cases`` on downgrade): run it inside
``casecraft.store.db.migrating`` (foreign keys checked at the end), as ``ensure_schema`` and env.py do.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:20:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import casecraft.store.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_FIELDS: list[tuple[str, Any]] = [
    ('seq', sa.Integer()), ('state', sa.String(length=64)), ('tier', sa.String(length=32)),
    ('unit_code', sa.String(length=64)), ('limit_text', sa.String(length=64)), ('calendar', sa.String(length=64)),
    ('started_at', casecraft.store.types.UTCDateTime(timezone=True)),
    ('warn_at', casecraft.store.types.UTCDateTime(timezone=True)),
    ('due_at', casecraft.store.types.UTCDateTime(timezone=True)),
    ('escalate_at', casecraft.store.types.UTCDateTime(timezone=True)),
    ('next_alert_at', casecraft.store.types.UTCDateTime(timezone=True)), ('extended', sa.Integer()),
    ('closed_at', casecraft.store.types.UTCDateTime(timezone=True)), ('outcome', sa.String(length=16)),
    ('provisional', sa.Boolean()), ('row_id', sa.Integer()),
]
_NEXT = sa.text("stage_closed_at IS NULL AND stage_next_alert_at IS NOT NULL")
_DUE = sa.text("stage_due_at IS NOT NULL")
# the deadline columns a stage keeps (all but id, case_id and kind)
_ROW = ['seq', 'state', 'tier', 'unit_code', 'limit_text', 'calendar', 'started_at', 'warn_at', 'due_at',
        'escalate_at', 'next_alert_at', 'extended', 'closed_at', 'outcome', 'provisional']


def _tables() -> tuple[sa.Table, sa.Table]:
    meta = sa.MetaData()
    deadlines = sa.Table('deadlines', meta, sa.Column('id', sa.Integer, primary_key=True),
                         sa.Column('case_id', sa.Integer), sa.Column('kind', sa.String(8)),
                         *(sa.Column(n, t) for n, t in _FIELDS if n != 'row_id'))
    cases = sa.Table('cases', meta, sa.Column('id', sa.Integer, primary_key=True),
                     *(sa.Column(f'stage_{n}', t) for n, t in _FIELDS))
    return deadlines, cases


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, kind in _FIELDS:
            batch_op.add_column(sa.Column(f'stage_{name}', kind, nullable=True))
        batch_op.create_index('ix_cases_stage_next_alert', ['stage_next_alert_at'], unique=False,
                              postgresql_where=_NEXT, sqlite_where=_NEXT)
        batch_op.create_index('ix_cases_stage_due', ['stage_due_at', 'stage_state', 'stage_unit_code',
                                                     'stage_outcome'], unique=False,
                              postgresql_where=_DUE, sqlite_where=_DUE)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_alerts_deadline_id_deadlines', type_='foreignkey')
    deadlines, cases = _tables()
    bind = op.get_bind()
    running = bind.execute(
        sa.select(deadlines).where(deadlines.c.kind == 'step',
                                   sa.or_(deadlines.c.closed_at.is_(None), deadlines.c.outcome == 'paused'))
        .order_by(deadlines.c.case_id, deadlines.c.id)).mappings().all()
    newest: dict[int, Any] = {}
    for r in running:  # a case has one running step limit; were there more, the newest is the running one
        newest[r['case_id']] = r
    for case_id, r in newest.items():
        values = {f'stage_{n}': r[n] for n in _ROW}
        values['stage_row_id'] = r['id']
        bind.execute(sa.update(cases).where(cases.c.id == case_id).values(**values))
        bind.execute(sa.delete(deadlines).where(deadlines.c.id == r['id']))


def downgrade() -> None:
    deadlines, cases = _tables()
    bind = op.get_bind()
    staged = bind.execute(sa.select(cases).where(cases.c.stage_seq.is_not(None)).order_by(cases.c.id)).mappings()
    for r in staged.all():
        values = {n: r[f'stage_{n}'] for n in _ROW}
        values.update(case_id=r['id'], kind='step')
        if r['stage_row_id'] is not None:
            values['id'] = r['stage_row_id']
        bind.execute(sa.insert(deadlines).values(**values))
    if bind.dialect.name == 'postgresql':  # rows written with their old ids: the sequence goes past them
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('deadlines', 'id'), "
                             "COALESCE((SELECT MAX(id) FROM deadlines), 1))"))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_alerts_deadline_id_deadlines', 'deadlines', ['deadline_id'], ['id'])
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_stage_due', postgresql_where=_DUE, sqlite_where=_DUE)
        batch_op.drop_index('ix_cases_stage_next_alert', postgresql_where=_NEXT, sqlite_where=_NEXT)
        for name, _kind in reversed(_FIELDS):
            batch_op.drop_column(f'stage_{name}')
