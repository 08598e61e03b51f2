"""The abuse suite: each test attacks a running stack as a hostile tenant would, and asserts a
bound.

It runs on the service suite's real servers (Postgres, Redis, real worker processes, gunicorn as
deployed, AUTH on). Fixtures are shared with tests/service; ``stack`` is the API under gunicorn.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import (  # noqa: F401  (fixtures, shared with the service suite)
    api_token,
    app,
    auth_headers,
    client,
    make_token,
    postgres,
    queue,
    redis_broker,
    services,
    worker,
)
from tests.service.servers import ApiServer


@pytest.fixture(scope="session")
def stack(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:  # noqa: F811
    """The API under gunicorn (two workers, eight threads each), as compose deploys it."""
    log = tmp_path_factory.mktemp("abuse") / "api.log"
    server = ApiServer(log, workers=2, threads=8)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_log(stack: ApiServer) -> Path:
    """The gunicorn log of ``stack``, to read what the server said."""
    return Path(stack._log.name)
