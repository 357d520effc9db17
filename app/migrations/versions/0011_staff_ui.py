"""wf_task.title_en: the English name of a user task (BPMN ``name`` is Chinese)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wf_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_en", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wf_task", schema=None) as batch_op:
        batch_op.drop_column("title_en")
