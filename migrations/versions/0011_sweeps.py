"""sweeps: many trials of one spec, each a job with its sweep and params; the pruned status

Revision ID: 5e1f0c7a2b10
Revises: e3b5c7d90010
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0c7a2b10"
down_revision: str | None = "e3b5c7d90010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelt out, not imported: a migration must keep meaning what it meant when it was written.
BEFORE = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")
AFTER = (*BEFORE, "pruned")


def _condition(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{status}'" for status in statuses))


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(3), nullable=False),
        sa.Column("max_parallel", sa.Integer(), nullable=False),
        sa.Column("pruning", sa.JSON(), nullable=True),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
        sa.UniqueConstraint("owner", "idempotency_key", name="uq_sweeps_owner_idempotency_key"),
    )
    op.create_index("ix_sweeps_owner_created", "sweeps", ["owner", "created_at", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_jobs_sweep_id_sweeps"), "sweeps", ["sweep_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_jobs_sweep_id"), ["sweep_id"])
        batch.drop_constraint(op.f("ck_jobs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_jobs_status"), _condition(AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE sweep_id IS NOT NULL OR status = 'pruned'")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_jobs_status"), _condition(BEFORE))
        batch.drop_index(op.f("ix_jobs_sweep_id"))
        batch.drop_constraint(op.f("fk_jobs_sweep_id_sweeps"), type_="foreignkey")
        batch.drop_column("params")
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweeps_owner_created", table_name="sweeps")
    op.drop_table("sweeps")
