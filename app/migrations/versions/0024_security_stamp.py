"""security: a per-user security stamp (roles, groups, communities, account changes) beside the
token version, so a web process may keep a user's roles and communities between requests

Revision ID: 0024
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_token_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("user_token_version", schema=None) as batch_op:
        batch_op.drop_column("stamp")
