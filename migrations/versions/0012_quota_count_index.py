"""the quota count's index: an owner's jobs that have not ended (issue 19)

A submission counts the owner's active jobs in its INSERT. By the owner's index it read every
job the owner ever ran; by the status index, every owner's queue. This index holds only the
jobs that have not ended, so the count reads the owner's few.

Revision ID: 7a9c2d4e6f12
Revises: 5e1f0c7a2b10
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a9c2d4e6f12"
down_revision: str | None = "5e1f0c7a2b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelt out, not imported: a migration must keep meaning what it meant when it was written.
NOT_ENDED = sa.text("status IN ('queued', 'running', 'cancelling')")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_owner_not_ended",
        "jobs",
        ["owner", "status", "sweep_id"],
        postgresql_where=NOT_ENDED,
        sqlite_where=NOT_ENDED,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_not_ended", table_name="jobs")
