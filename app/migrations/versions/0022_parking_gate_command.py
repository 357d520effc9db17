"""parking_ticket / parking_plate_event: ``gate_request_id``, the ``device_command`` (outbox
row) of the gate's ``open`` for the record, so the record learns the gate's answer even when
the command was delivered after a restart or when the gate came back.

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLES = ("parking_ticket", "parking_plate_event")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("gate_request_id", sa.String(length=64), nullable=True))
            batch_op.create_index(f"ix_{table}_gate_request_id", ["gate_request_id"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_gate_request_id")
            batch_op.drop_column("gate_request_id")
