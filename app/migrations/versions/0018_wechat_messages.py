"""user_wechat_identity: a login's WeChat (mini-program) openid, for JSAPI payments and
subscription messages; never shown.

Revision ID: 0018
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_wechat_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("appid", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("unionid", sa.String(length=128), nullable=True),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "appid", name="uq_wechat_identity_user_app"),
        sa.UniqueConstraint("appid", "openid", name="uq_wechat_identity_app_openid"),
    )
    with op.batch_alter_table("user_wechat_identity", schema=None) as batch_op:
        batch_op.create_index("ix_user_wechat_identity_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_wechat_identity", schema=None) as batch_op:
        batch_op.drop_index("ix_user_wechat_identity_user_id")
    op.drop_table("user_wechat_identity")
