"""fair share and thinned curves: a job's queue, the message running it, its recording stride

Revision ID: 4b8d2f6a9c15
Revises: a4c1a55e5004
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b8d2f6a9c15"
down_revision: str | None = "a4c1a55e5004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, without defaults: jobs stored before this revision have no queue (the first
    # reaper to find one waiting adopts it into its own queue) and record every epoch.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("queue", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("message_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("recorded_every", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("recorded_every")
        batch.drop_column("message_id")
        batch.drop_column("queue")
