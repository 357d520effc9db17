"""entered outcome figures for the renovation audit pack (figures from before the platform)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_entered_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("period_from", sa.String(length=7), nullable=False),
        sa.Column("period_to", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "outcome", "period_from", "period_to"),
    )
    with op.batch_alter_table("kpi_entered_figure", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_entered_figure_community_id", ["community_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kpi_entered_figure", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_entered_figure_community_id")
    op.drop_table("kpi_entered_figure")
