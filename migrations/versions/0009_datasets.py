"""datasets: uploaded samples stored once, and the dataset a job trains on (issue 13)

Revision ID: d8a7a5e70008
Revises: 4b8d2f6a9c15
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8a7a5e70008"
down_revision: str | None = "4b8d2f6a9c15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("feature_names", sa.JSON(), nullable=False),
        sa.Column("target_name", sa.String(200), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=True),
        sa.Column("column_stats", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs", sa.LargeBinary(), nullable=False),
        sa.Column("targets", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("owner", "sha256", name="uq_datasets_owner_sha256"),
    )
    op.create_index("ix_datasets_owner_created", "datasets", ["owner", "created_at", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("dataset_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_jobs_dataset_id_datasets"),
            "datasets",
            ["dataset_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_jobs_dataset_id"), ["dataset_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_dataset_id"))
        batch.drop_constraint(op.f("fk_jobs_dataset_id_datasets"), type_="foreignkey")
        batch.drop_column("dataset_id")
    op.drop_index("ix_datasets_owner_created", table_name="datasets")
    op.drop_table("datasets")
