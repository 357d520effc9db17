"""module packages: uploaded module versions stored in the database

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "module_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.String(length=60), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("processes", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module_id", "version"),
    )
    with op.batch_alter_table("module_package", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_module_package_module_id"), ["module_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("module_package", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_module_package_module_id"))
    op.drop_table("module_package")
