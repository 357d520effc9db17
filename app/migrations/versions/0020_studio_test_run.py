"""studio: test runs of a draft's process in the scratch community

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"  # 0017 as given; chained after the merged studio skeleton (one head)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_test_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.String(length=60), nullable=False),
        sa.Column("process_path", sa.String(length=300), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("start_data", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("clock_offset_s", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["instance_id"], ["wf_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("studio_test_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studio_test_run_module_id"), ["module_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("studio_test_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studio_test_run_module_id"))
    op.drop_table("studio_test_run")
