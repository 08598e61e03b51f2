"""job status check: the column holds only store.status.JobStatus names

Revision ID: 7c2e9a4b1d03
Revises: e15803e8fcf3
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c2e9a4b1d03"
down_revision: str | None = "e15803e8fcf3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelt out, not imported: a migration must keep meaning what it meant when it was written.
STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")


def upgrade() -> None:
    condition = "status IN ({})".format(", ".join(f"'{status}'" for status in STATUSES))
    # Batch mode: SQLite adds a constraint by copying the table.
    with op.batch_alter_table("jobs") as batch:
        batch.create_check_constraint(op.f("ck_jobs_status"), condition)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_status"), type_="check")
