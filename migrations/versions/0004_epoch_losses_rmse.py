"""epoch losses rmse: a regression job's root-mean-square error per epoch (issue 14)

Revision ID: a4c1a55e5004
Revises: 7c2e9a4b1d03
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c1a55e5004"
down_revision: str | None = "7c2e9a4b1d03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("epoch_losses", sa.Column("rmse", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epoch_losses") as batch:
        batch.drop_column("rmse")
