"""job labels and list filters: a labels document, indexed for ?label= and ?name= filters

Revision ID: 8d41c0b7a2f5
Revises: 3f6a1d2e9b40
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "8d41c0b7a2f5"
down_revision: str | None = "3f6a1d2e9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("labels", sa.JSON().with_variant(JSONB(), "postgresql")))
    op.create_index("ix_jobs_labels", "jobs", ["labels"], postgresql_using="gin")
    op.create_index(
        "ix_jobs_owner_name",
        "jobs",
        ["owner", "name"],
        postgresql_ops={"name": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_name", table_name="jobs")
    op.drop_index("ix_jobs_labels", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("labels")
