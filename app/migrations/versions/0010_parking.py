"""parking: spaces, permits, waiting list, tickets, plate reads, plate reviews, charging
sessions; visitor_pass.plate

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('charging_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('budget_cents', sa.Integer(), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('kwh', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('stop_reason', sa.String(length=12), nullable=True),
    sa.Column('bill_number', sa.String(length=40), nullable=True),
    sa.Column('repair_order', sa.String(length=40), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_report_at', sa.DateTime(), nullable=True),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('charging_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charging_session_community_id'), ['community_id'], unique=False)
        batch_op.create_index('ix_charging_session_device_status', ['device_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_charging_session_household_id'), ['household_id'], unique=False)

    op.create_table('parking_space',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('has_charger', sa.Boolean(), nullable=False),
    sa.Column('charger_device_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['charger_device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'code')
    )
    with op.batch_alter_table('parking_space', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_space_community_id'), ['community_id'], unique=False)

    op.create_table('parking_ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('entry_device_id', sa.Integer(), nullable=True),
    sa.Column('exit_device_id', sa.Integer(), nullable=True),
    sa.Column('entry_at', sa.DateTime(), nullable=False),
    sa.Column('exit_at', sa.DateTime(), nullable=True),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('fee_explanation', sa.JSON(), nullable=False),
    sa.Column('pay_token', sa.String(length=40), nullable=False),
    sa.Column('out_trade_no', sa.String(length=40), nullable=True),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('overpaid_cents', sa.Integer(), nullable=False),
    sa.Column('gate_status', sa.String(length=12), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['entry_device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['exit_device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('out_trade_no'),
    sa.UniqueConstraint('pay_token')
    )
    with op.batch_alter_table('parking_ticket', schema=None) as batch_op:
        batch_op.create_index('ix_parking_ticket_community_plate_status', ['community_id', 'plate', 'status'], unique=False)

    op.create_table('parking_permit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=12), nullable=False),
    sa.Column('space_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('bill_number', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], ),
    sa.ForeignKeyConstraint(['space_id'], ['parking_space.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('parking_permit', schema=None) as batch_op:
        batch_op.create_index('ix_parking_permit_community_plate', ['community_id', 'plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_permit_household_id'), ['household_id'], unique=False)

    op.create_table('parking_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('plate', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decision_reason', sa.String(length=300), nullable=True),
    sa.Column('gate_status', sa.String(length=12), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['parking_ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('parking_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_review_community_id'), ['community_id'], unique=False)

    op.create_table('parking_plate_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('plate', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('confidence', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('gate_status', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['review_id'], ['parking_review.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['parking_ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('parking_plate_event', schema=None) as batch_op:
        batch_op.create_index('ix_parking_plate_event_lookup', ['community_id', 'plate', 'direction', 'at'], unique=False)

    op.create_table('parking_waitlist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], ),
    sa.ForeignKeyConstraint(['permit_id'], ['parking_permit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('parking_waitlist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_waitlist_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_waitlist_household_id'), ['household_id'], unique=False)

    with op.batch_alter_table('visitor_pass', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plate', sa.String(length=12), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('visitor_pass', schema=None) as batch_op:
        batch_op.drop_column('plate')

    with op.batch_alter_table('parking_waitlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_waitlist_household_id'))
        batch_op.drop_index(batch_op.f('ix_parking_waitlist_community_id'))

    op.drop_table('parking_waitlist')
    with op.batch_alter_table('parking_plate_event', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_plate_event_lookup')

    op.drop_table('parking_plate_event')
    with op.batch_alter_table('parking_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_review_community_id'))

    op.drop_table('parking_review')
    with op.batch_alter_table('parking_permit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_permit_household_id'))
        batch_op.drop_index('ix_parking_permit_community_plate')

    op.drop_table('parking_permit')
    with op.batch_alter_table('parking_ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_ticket_community_plate_status')

    op.drop_table('parking_ticket')
    with op.batch_alter_table('parking_space', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_space_community_id'))

    op.drop_table('parking_space')
    with op.batch_alter_table('charging_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charging_session_household_id'))
        batch_op.drop_index('ix_charging_session_device_status')
        batch_op.drop_index(batch_op.f('ix_charging_session_community_id'))

    op.drop_table('charging_session')
