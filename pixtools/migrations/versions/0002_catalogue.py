"""recipe options on jobs (auto_orient, colour, metadata)

Revision ID: 0002_catalogue
Revises: 0001
Create Date: 2026-11-29 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_catalogue'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # NULL means the defaults (upright, sRGB, metadata stripped), so older jobs need no data.
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('options')
