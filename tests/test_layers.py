"""The shape of the house: imports have no side effects, and the client stands alone.

import-linter (``make lint``) checks who imports whom; these check what importing does.
"""

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "store", "service", "worker", "client")
# Entry scripts: running them is their point (``python -m worker``).
ENTRY_MODULES = {"worker.__main__"}


def every_module() -> list[str]:
    names = list(PACKAGES)
    for package in PACKAGES:
        found = pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}.")
        names += [m.name for m in found if m.name not in ENTRY_MODULES]
    return sorted(names)


def test_importing_any_module_reads_no_settings_and_creates_nothing(tmp_path: Path) -> None:
    # Settings that could not even be parsed, and a folder to watch: importing must not care.
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": "postgresql://nowhere/none",
        "SECRET_KEY": "",
        "PORT": "not a number",
    }
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)"
    modules = every_module()
    assert len(modules) > 40
    done = subprocess.run(
        [sys.executable, "-c", code, *modules],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []  # no var/, no broker or metrics folder


BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

class Refuse(MetaPathFinder):
    # The server's dependencies, as if only 'gradyard[client]' were installed.
    BLOCKED = ("flask", "sqlalchemy", "celery", "kombu", "pydantic", "redis", "alembic")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} is not installed (client only)")
        return None

sys.meta_path.insert(0, Refuse())
from client import Client
from client.cli import main
main(sys.argv[1:])
"""


def test_the_client_and_its_commands_work_without_the_server_installed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("submit", "status", "list", "losses", "predict", "cancel"):
        assert command in done.stdout
    for server_command in ("serve", "worker", "tokens"):  # absent, not broken
        assert f"  {server_command} " not in done.stdout


def test_with_the_server_installed_gradyard_has_its_commands_too() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("gradyard")), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("submit", "serve", "worker", "db", "tokens"):
        assert f"  {command} " in done.stdout
