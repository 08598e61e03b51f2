"""lock_owners_and_count: a batch of submissions locks its owners and reads their counts in one
round trip (issue 19)

A batch of submissions took its owners' locks in one statement and read their counts of active
jobs in a second. They cannot share one plain statement: its snapshot would be taken before it
waited for the locks, and miss a job committed meanwhile. In a volatile PL/pgSQL function each
statement takes a snapshot of its own, so the count is read after the locks are held. SQLite
(the embedded mode) takes no such locks and needs no function.

Revision ID: 2c7d9e4a6b13
Revises: 9d4f7b2c1e58
Create Date: 2026-12-01 04:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2c7d9e4a6b13"
down_revision: str | None = "9d4f7b2c1e58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """
CREATE FUNCTION lock_owners_and_count(keys bigint[], owners varchar[])
RETURNS TABLE (owner varchar, active integer) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    -- In the array's order: callers give their owners sorted, so no two wait for each other.
    PERFORM pg_advisory_xact_lock(key)
    FROM unnest(keys) WITH ORDINALITY AS taken(key, place) ORDER BY place;
    RETURN QUERY
        SELECT counts.owner, counts.active FROM owner_active_jobs AS counts
        WHERE counts.owner = ANY(owners);
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION lock_owners_and_count(bigint[], varchar[])")
