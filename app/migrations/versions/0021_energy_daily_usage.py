"""energy: daily usage per meter and how far each community is derived (the nightly run derives only
the new days; months are sums of days)

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_daily_usage",
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("start_value", sa.Numeric(18, 4), nullable=False),
        sa.Column("end_value", sa.Numeric(18, 4), nullable=False),
        sa.Column("usage", sa.Numeric(18, 4), nullable=False),
        sa.Column("day_use", sa.Numeric(18, 4), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("derived_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "day"),
    )
    op.create_index("ix_energy_daily_community_day", "energy_daily_usage", ["community_id", "day"])
    op.create_table(
        "energy_derivation",
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("derived_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("community_id"),
    )


def downgrade() -> None:
    op.drop_table("energy_derivation")
    op.drop_index("ix_energy_daily_community_day", table_name="energy_daily_usage")
    op.drop_table("energy_daily_usage")
