"""jobs finished_at index: the retention purge finds ended jobs past RETENTION_DAYS by it

Revision ID: 3f6a1d2e9b40
Revises: 7c2e9a4b1d03
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3f6a1d2e9b40"
down_revision: str | None = "7c2e9a4b1d03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
