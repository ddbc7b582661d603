"""deadlines alerts calendar

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:42:51.257943
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casecraft.store.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=True),
    sa.Column('updated_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('limit_text', sa.String(length=64), nullable=False),
    sa.Column('calendar', sa.String(length=64), nullable=False),
    sa.Column('started_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalate_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_alert_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extended', sa.Integer(), nullable=False),
    sa.Column('closed_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_deadlines_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadlines'))
    )
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_case', ['case_id'], unique=False)
        batch_op.create_index('ix_deadlines_next_alert', ['next_alert_at'], unique=False, postgresql_where=sa.text('closed_at IS NULL AND next_alert_at IS NOT NULL'), sqlite_where=sa.text('closed_at IS NULL AND next_alert_at IS NOT NULL'))
        batch_op.create_index('ix_deadlines_open_due', ['due_at'], unique=False, postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('deadline_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('due_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('raised_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('acked_by', sa.String(length=64), nullable=True),
    sa.Column('acked_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_alerts_case_id_cases')),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadlines.id'], name=op.f('fk_alerts_deadline_id_deadlines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('key', name='uq_alerts_key')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_case', ['case_id'], unique=False)
        batch_op.create_index('ix_alerts_unit_open', ['unit_code', 'acked_at'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('sink', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_deliveries_alert_id_alerts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('alert_id', 'sink', name='uq_deliveries_alert_sink')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('registered_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('parked', sa.Boolean(), nullable=False, server_default=sa.false()))




def downgrade() -> None:

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('parked')
        batch_op.drop_column('registered_at')
        batch_op.drop_column('deadline_at')

    op.drop_table('deliveries')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_unit_open')
        batch_op.drop_index('ix_alerts_case')

    op.drop_table('alerts')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_open_due', postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index('ix_deadlines_next_alert', postgresql_where=sa.text('closed_at IS NULL AND next_alert_at IS NOT NULL'), sqlite_where=sa.text('closed_at IS NULL AND next_alert_at IS NOT NULL'))
        batch_op.drop_index('ix_deadlines_case')

    op.drop_table('deadlines')
    op.drop_table('calendar_days')

