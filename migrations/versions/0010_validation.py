"""validation: each epoch's validation measures, and where early stopping ended a job (issue 13)

Revision ID: e3b5c7d90010
Revises: d8a7a5e70008
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3b5c7d90010"
down_revision: str | None = "d8a7a5e70008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("epoch_losses") as batch:
        batch.add_column(sa.Column("val_loss", sa.Float(), nullable=True))
        batch.add_column(sa.Column("val_accuracy", sa.Float(), nullable=True))
        batch.add_column(sa.Column("val_rmse", sa.Float(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("stopped_epoch", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("best_epoch", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("best_epoch")
        batch.drop_column("stopped_epoch")
    with op.batch_alter_table("epoch_losses") as batch:
        batch.drop_column("val_rmse")
        batch.drop_column("val_accuracy")
        batch.drop_column("val_loss")
