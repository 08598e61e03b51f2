"""The API served over real HTTP from a thread, for clients that are not Flask's test client
(the Python client, the CLI, a browser). Import the fixture into a test module to use it."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server


@pytest.fixture(scope="session")
def live_server(app: Any) -> Iterator[str]:
    """The base URL of the app served by werkzeug, one thread per request (streams stay open)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
