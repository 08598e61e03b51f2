"""epoch losses rmse: a regression job's root-mean-square error per epoch (issue 14)

Revision ID: a4c1a55e5004
Revises: 5b7e2c9d4a16
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c1a55e5004"
down_revision: str | None = "5b7e2c9d4a16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("epoch_losses", sa.Column("rmse", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epoch_losses") as batch:
        batch.drop_column("rmse")
