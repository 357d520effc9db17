"""uploads: grant audience and household, upload receipts (who uploaded what for which form)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upload_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=20), server_default="community",
                                      nullable=False))
        batch_op.add_column(sa.Column("household_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_upload_grant_household_id", "household", ["household_id"], ["id"])
    op.create_table(
        "upload_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("upload_receipt", schema=None) as batch_op:
        batch_op.create_index("ix_upload_receipt_sha256", ["sha256"], unique=False)
        batch_op.create_index("ix_upload_receipt_uploaded_at", ["uploaded_at"], unique=False)
        batch_op.create_index("ix_upload_receipt_user_scope", ["user_id", "scope"], unique=False)
    # camera snapshots and hydrant charts already granted are security staff's only
    op.execute("UPDATE upload_grant SET audience = 'security' WHERE granted_by IN ('camera', 'hydrant-monitor')")


def downgrade() -> None:
    with op.batch_alter_table("upload_receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_upload_receipt_user_scope")
        batch_op.drop_index("ix_upload_receipt_uploaded_at")
        batch_op.drop_index("ix_upload_receipt_sha256")
    op.drop_table("upload_receipt")
    with op.batch_alter_table("upload_grant", schema=None) as batch_op:
        batch_op.drop_constraint("fk_upload_grant_household_id", type_="foreignkey")
        batch_op.drop_column("household_id")
        batch_op.drop_column("audience")
