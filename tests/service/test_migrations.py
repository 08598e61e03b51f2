"""Alembic owns the schema: one head, a clean round trip, and no drift from the models."""

import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from service.cli import wait_for_database
from store.db import make_engine
from store.models import Base
from tests.service.conftest import (
    DATABASE_URL,
    RUN_TAG,
    alembic_config,
    drop_database,
    recreate_database,
    upgrade,
)
from tests.service.servers import free_port


@pytest.fixture
def scratch_postgres(postgres: str) -> Iterator[Engine]:
    url = make_url(DATABASE_URL).set(database=f"gradyard_migrations_{RUN_TAG}")
    recreate_database(url.render_as_string(hide_password=False))
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    drop_database(url.render_as_string(hide_password=False))


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def drift(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_round_trip_on_postgres(scratch_postgres: Engine) -> None:
    upgrade(scratch_postgres)
    assert {"jobs", "epoch_losses"} <= set(inspect(scratch_postgres).get_table_names())
    downgrade(scratch_postgres, "base")
    assert set(inspect(scratch_postgres).get_table_names()) <= {"alembic_version"}
    upgrade(scratch_postgres)
    assert drift(scratch_postgres) == []


def test_models_match_migrations_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gradyard.db'}")
    upgrade(engine)
    assert drift(engine) == []
    downgrade(engine, "base")
    upgrade(engine)
    engine.dispose()


def test_db_upgrade_waits_for_the_database_a_bounded_time(
    postgres: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_for_database(postgres, 5)  # up: no wait, no line
    assert capsys.readouterr().err == ""

    nobody = make_url(postgres).set(port=free_port()).render_as_string(hide_password=False)
    started = time.monotonic()
    with pytest.raises(click.ClickException, match="unreachable for 2 s"):
        wait_for_database(nobody, 2)
    assert time.monotonic() - started < 10
    lines = capsys.readouterr().err.splitlines()
    assert lines and all("unreachable (attempt" in line for line in lines), lines
    assert len(lines) <= 3
