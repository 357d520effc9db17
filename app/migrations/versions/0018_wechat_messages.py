"""user_wechat_identity: a login's WeChat (mini-program) openid, for JSAPI payments and
subscription messages; never shown. notification: delivery attempts (the SMS/WeChat outbox);
notification_preference: each login's channels and consent.

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
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sms", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sms_consent_at", sa.DateTime(), nullable=True),
        sa.Column("wechat", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("wechat_consent_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=80), nullable=True))
        batch_op.create_index("ix_notification_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_due")
        for column in ("provider_ref", "reason", "sent_at", "next_attempt_at", "attempts"):
            batch_op.drop_column(column)
    op.drop_table("notification_preference")
    with op.batch_alter_table("user_wechat_identity", schema=None) as batch_op:
        batch_op.drop_index("ix_user_wechat_identity_user_id")
    op.drop_table("user_wechat_identity")
