"""core schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 07:35:33.169668
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casecraft.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('people',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_unit_code'), ['unit_code'], unique=False)

    op.create_table('units',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_units'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_parent_code'), ['parent_code'], unique=False)

    op.create_table('workflow_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=True),
    sa.Column('created_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_versions')),
    sa.UniqueConstraint('workflow_id', 'content_hash', name='uq_workflow_versions_hash'),
    sa.UniqueConstraint('workflow_id', 'number', name='uq_workflow_versions_number')
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_version_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('grid_code', sa.String(length=64), nullable=True),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('urgency', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('reporter_id', sa.String(length=64), nullable=False),
    sa.Column('assignees', sa.JSON(), nullable=False),
    sa.Column('resolved_tier', sa.String(length=32), nullable=True),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('created_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', casecraft.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['workflow_version_id'], ['workflow_versions.id'], name=op.f('fk_cases_workflow_version_id_workflow_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('source', 'ref', name='uq_cases_source_ref')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_created', ['created_at'], unique=False)
        batch_op.create_index('ix_cases_grid', ['grid_code'], unique=False)
        batch_op.create_index('ix_cases_unit_open', ['unit_code', 'state'], unique=False)

    op.create_table('timeline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', casecraft.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=32), nullable=True),
    sa.Column('actor_unit', sa.String(length=64), nullable=True),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=64), nullable=True),
    sa.Column('to_state', sa.String(length=64), nullable=False),
    sa.Column('from_tier', sa.String(length=32), nullable=True),
    sa.Column('to_tier', sa.String(length=32), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_timeline_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline')),
    sa.UniqueConstraint('case_id', 'seq', name='uq_timeline_case_seq')
    )
    with op.batch_alter_table('timeline', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_at'), ['at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('timeline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timeline_at'))

    op.drop_table('timeline')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_unit_open')
        batch_op.drop_index('ix_cases_grid')
        batch_op.drop_index('ix_cases_created')

    op.drop_table('cases')
    op.drop_table('workflow_versions')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_parent_code'))

    op.drop_table('units')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_unit_code'))

    op.drop_table('people')

