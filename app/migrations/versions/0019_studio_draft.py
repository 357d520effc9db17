"""studio_draft: a consultant's module package being edited in the browser studio

Revision ID: 0019
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.String(length=60), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.String(length=20), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module_id"),
    )


def downgrade() -> None:
    op.drop_table("studio_draft")
