"""job spec as json: Postgres keeps a spec's keys in the order they were written

JSONB stores an object's keys sorted, so GET /jobs/{id} on Postgres showed the spec in another
order than the POST answer and the embedded mode (SQLite) did. A json column keeps the text as
written. Specs stored before keep the order JSONB gave them.

Revision ID: 5b7e2c9d4a16
Revises: 8d41c0b7a2f5
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "5b7e2c9d4a16"
down_revision: str | None = "8d41c0b7a2f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "jobs", "spec", type_=sa.JSON(), existing_type=JSONB(), postgresql_using="spec::json"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "jobs", "spec", type_=JSONB(), existing_type=sa.JSON(), postgresql_using="spec::jsonb"
        )
