"""presets: recipes saved by their owner

Revision ID: 0006_presets
Revises: 0004_recovery
Create Date: 2026-12-06 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_presets'
down_revision = '0004_recovery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('presets',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('recipe', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner', 'name', name='uq_presets_owner_name')
    )
    with op.batch_alter_table('presets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presets_owner'), ['owner'], unique=False)


def downgrade():
    with op.batch_alter_table('presets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_presets_owner'))
    op.drop_table('presets')
