"""evaluation indexes: the monthly run's scans read covering indexes in unit order

``ix_cases_evaluation`` holds every column the evaluation's case scan reads, in
grid order (it replaces ``ix_cases_grid``, its first column); the partial
``ix_deadlines_steps`` holds every column of the step-limit scan, in unit order.
A city's month (2,400,000 cases, 6,270,000 deadline rows) is then scanned
without reading a table row or sorting (bench/RESULTS.md, issue 16).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 14:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_STEPS = sa.text("kind = 'step'")


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_evaluation', ['grid_code', 'source', 'created_at', 'registered_at',
                                                      'closed_at', 'deadline_at', 'parked', 'resolved_tier'],
                              unique=False)
        batch_op.drop_index('ix_cases_grid')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_steps', ['unit_code', 'kind', 'state', 'outcome', 'closed_at', 'due_at'],
                              unique=False, postgresql_where=_STEPS, sqlite_where=_STEPS)


def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_steps', postgresql_where=_STEPS, sqlite_where=_STEPS)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_grid', ['grid_code'], unique=False)
        batch_op.drop_index('ix_cases_evaluation')
