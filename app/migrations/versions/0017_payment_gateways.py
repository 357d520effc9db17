"""payments: refunds that wait for the gateway (status, out_refund_no), the community of an
accepted gateway notification, daily statement runs and their differences

Revision ID: 0017
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), server_default="done", nullable=False))
        batch_op.add_column(sa.Column("out_refund_no", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("gateway_refund_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint("uq_refund_out_refund_no", ["out_refund_no"])
    with op.batch_alter_table("gateway_notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_gateway_notification_community_id"), ["community_id"], unique=False)
        batch_op.create_foreign_key("fk_gateway_notification_community_id", "community", ["community_id"], ["id"])
    op.create_table(
        "payment_statement_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("bill_date", sa.Date(), nullable=False),
        sa.Column("gateway_rows", sa.Integer(), nullable=False),
        sa.Column("our_rows", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("gateway_cents", sa.Integer(), nullable=False),
        sa.Column("our_cents", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gateway", "bill_date"),
    )
    op.create_table(
        "payment_statement_difference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("out_trade_no", sa.String(length=40), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("gateway_cents", sa.Integer(), nullable=True),
        sa.Column("our_cents", sa.Integer(), nullable=True),
        sa.Column("traded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["payment_statement_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_statement_difference", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_statement_difference_community_id"), ["community_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_payment_statement_difference_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_statement_difference", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_statement_difference_run_id"))
        batch_op.drop_index(batch_op.f("ix_payment_statement_difference_community_id"))
    op.drop_table("payment_statement_difference")
    op.drop_table("payment_statement_run")
    with op.batch_alter_table("gateway_notification", schema=None) as batch_op:
        batch_op.drop_constraint("fk_gateway_notification_community_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_gateway_notification_community_id"))
        batch_op.drop_column("community_id")
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_constraint("uq_refund_out_refund_no", type_="unique")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("gateway_refund_id")
        batch_op.drop_column("out_refund_no")
        batch_op.drop_column("status")
