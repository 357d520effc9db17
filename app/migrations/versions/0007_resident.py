"""resident side: repair quote acceptance, visitor pass 6-digit codes, the household a login
acts for, the elderly-friendly mode

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repair_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quote_status", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("quote_decided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("quote_note", sa.String(length=300), nullable=True))
    with op.batch_alter_table("visitor_pass", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_code", sa.String(length=6), nullable=True))
        batch_op.create_index("ix_visitor_pass_community_code", ["community_id", "short_code"], unique=False)
    with op.batch_alter_table("user_preference", schema=None) as batch_op:
        batch_op.add_column(sa.Column("elderly_mode", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "resident_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("resident_preference")
    with op.batch_alter_table("user_preference", schema=None) as batch_op:
        batch_op.drop_column("elderly_mode")
    with op.batch_alter_table("visitor_pass", schema=None) as batch_op:
        batch_op.drop_index("ix_visitor_pass_community_code")
        batch_op.drop_column("short_code")
    with op.batch_alter_table("repair_order", schema=None) as batch_op:
        batch_op.drop_column("quote_note")
        batch_op.drop_column("quote_decided_at")
        batch_op.drop_column("quote_status")
