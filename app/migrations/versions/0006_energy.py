"""energy: meters, readings (partitioned by month on PostgreSQL), flagged readings, monthly
usage, findings, 公摊 apportionments and shares, public revenue ledger and disclosures,
saving measures

Revision ID: 0006
Revises: 0005
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "energy_partitions"


def _month(year: int, month: int, n: int) -> tuple[int, int]:
    i = year * 12 + month - 1 + n
    return i // 12, i % 12 + 1


def upgrade() -> None:
    op.create_table(
        "energy_meter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("device.id"), nullable=True),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("building.id"), nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("master_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=True),
        sa.Column("handheld", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "code"),
        sa.UniqueConstraint("device_id"),
    )
    op.create_index("ix_energy_meter_community_id", "energy_meter", ["community_id"])
    op.create_table(
        "energy_reading",
        sa.Column("meter_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Numeric(18, 4), nullable=False),
        sa.Column("quality", sa.String(16), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "at"),
        postgresql_partition_by="RANGE (at)",
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        op.execute(f"CREATE TABLE {SCHEMA}.energy_reading_default PARTITION OF energy_reading DEFAULT")
        today = date.today()
        for n in range(-13, 4):  # a year back (imports, the demo) and three months ahead
            y, m = _month(today.year, today.month, n)
            y2, m2 = _month(y, m, 1)
            op.execute(f"CREATE TABLE {SCHEMA}.energy_reading_{y:04d}_{m:02d} PARTITION OF energy_reading "
                       f"FOR VALUES FROM ('{y:04d}-{m:02d}-01') TO ('{y2:04d}-{m2:02d}-01')")
    op.create_table(
        "energy_flagged_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Numeric(18, 4), nullable=True),
        sa.Column("quality", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_energy_flagged_meter_at", "energy_flagged_reading", ["meter_id", "at"])
    op.create_table(
        "energy_monthly_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("building.id"), nullable=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("start_value", sa.Numeric(18, 4), nullable=False),
        sa.Column("end_value", sa.Numeric(18, 4), nullable=False),
        sa.Column("usage", sa.Numeric(18, 4), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("derived_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meter_id", "period"),
    )
    op.create_index("ix_energy_monthly_community_period", "energy_monthly_usage", ["community_id", "period"])
    op.create_table(
        "energy_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=True),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("building.id"), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.String(200), nullable=True),
        sa.Column("work_order", sa.String(40), nullable=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("wf_instance.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_energy_finding_community_status", "energy_finding", ["community_id", "status"])
    op.create_index("ix_energy_finding_key_status", "energy_finding", ["key", "status"])
    op.create_table(
        "energy_apportionment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scope_key", sa.String(60), nullable=False),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("building.id"), nullable=True),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Numeric(18, 4), nullable=False),
        sa.Column("price", sa.Numeric(12, 4), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "period", "kind", "scope_key"),
    )
    op.create_table(
        "energy_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apportionment_id", sa.Integer(), sa.ForeignKey("energy_apportionment.id"), nullable=False),
        sa.Column("household_id", sa.Integer(), sa.ForeignKey("household.id"), nullable=False),
        sa.Column("household_code", sa.String(40), nullable=False),
        sa.Column("basis", sa.Numeric(18, 4), nullable=False),
        sa.Column("floor_cents", sa.Integer(), nullable=False),
        sa.Column("extra_cent", sa.Integer(), nullable=False),
        sa.Column("share_cents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("apportionment_id", "household_id"),
    )
    op.create_index("ix_energy_share_apportionment_id", "energy_share", ["apportionment_id"])
    op.create_index("ix_energy_share_household_id", "energy_share", ["household_id"])
    op.create_table(
        "public_revenue_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("corrects_id", sa.Integer(), sa.ForeignKey("public_revenue_entry.id"), nullable=True),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("source_ref", sa.String(80), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "source_ref"),
    )
    op.create_index("ix_public_revenue_community_period", "public_revenue_entry", ["community_id", "period"])
    op.create_table(
        "public_revenue_disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("income_cents", sa.Integer(), nullable=False),
        sa.Column("expense_cents", sa.Integer(), nullable=False),
        sa.Column("owners_pct", sa.Numeric(5, 2), nullable=False),
        sa.Column("owners_cents", sa.Integer(), nullable=False),
        sa.Column("company_cents", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "period"),
    )
    op.create_table(
        "energy_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id"), nullable=False),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("energy_meter.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("done_on", sa.DateTime(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_energy_measure_community", "energy_measure", ["community_id"])


def downgrade() -> None:
    op.drop_table("energy_measure")
    for table in ("public_revenue_disclosure", "public_revenue_entry", "energy_share", "energy_apportionment",
                  "energy_finding", "energy_monthly_usage", "energy_flagged_reading"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE energy_reading CASCADE")
        op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    else:
        op.drop_table("energy_reading")
    op.drop_table("energy_meter")
