"""inspection: points, routes, runs, check-ins, findings, spot checks

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspection_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('point_codes', sa.String(length=2000), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('shift', sa.String(length=10), nullable=False),
    sa.Column('start_time', sa.String(length=5), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('month_day', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inspection_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_route_community_id'), ['community_id'], unique=False)

    op.create_table('inspection_spot_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('inspection_spot_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_spot_check_community_id'), ['community_id'], unique=False)

    op.create_table('inspection_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('point_ids', sa.JSON(), nullable=False),
    sa.Column('planned_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('missed_point_ids', sa.JSON(), nullable=True),
    sa.Column('out_of_order', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['route_id'], ['inspection_route.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('route_id', 'planned_at')
    )
    with op.batch_alter_table('inspection_run', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_run_community_planned', ['community_id', 'planned_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_run_route_id'), ['route_id'], unique=False)

    op.create_table('inspection_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('checklist', sa.String(length=60), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'code')
    )
    with op.batch_alter_table('inspection_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_point_community_id'), ['community_id'], unique=False)

    op.create_table('inspection_checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('in_order', sa.Boolean(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('items_checked', sa.Integer(), nullable=False),
    sa.Column('items_failed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['inspection_point.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['inspection_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'point_id')
    )
    with op.batch_alter_table('inspection_checkin', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_checkin_community_at', ['community_id', 'at'], unique=False)

    op.create_table('inspection_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.Column('spot_check_id', sa.Integer(), nullable=True),
    sa.Column('point_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('item', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('clause', sa.String(length=300), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(), nullable=True),
    sa.Column('before_photos', sa.JSON(), nullable=True),
    sa.Column('after_photos', sa.JSON(), nullable=True),
    sa.Column('rectify_note', sa.String(length=1000), nullable=True),
    sa.Column('rectified_at', sa.DateTime(), nullable=True),
    sa.Column('rectified_by', sa.String(length=100), nullable=True),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('accepted_by', sa.String(length=100), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['inspection_checkin.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['inspection_point.id'], ),
    sa.ForeignKeyConstraint(['spot_check_id'], ['inspection_spot_check.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_finding_community_opened', ['community_id', 'opened_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_finding_community_opened')

    op.drop_table('inspection_finding')
    with op.batch_alter_table('inspection_checkin', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_checkin_community_at')

    op.drop_table('inspection_checkin')
    with op.batch_alter_table('inspection_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_point_community_id'))

    op.drop_table('inspection_point')
    with op.batch_alter_table('inspection_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_run_route_id'))
        batch_op.drop_index('ix_inspection_run_community_planned')

    op.drop_table('inspection_run')
    with op.batch_alter_table('inspection_spot_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_spot_check_community_id'))

    op.drop_table('inspection_spot_check')
    with op.batch_alter_table('inspection_route', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_route_community_id'))

    op.drop_table('inspection_route')
