"""A Python client for Gradyard's HTTP API, on httpx: ``from client import Client``.

    with Client("http://127.0.0.1:8000", token) as gy:
        job = gy.submit({"name": "notebook", "training": {"epochs": 20}})
        done = gy.wait(job["id"], on_progress=lambda e: print(e["epoch"], e["loss"]))
        outputs = gy.predict(job["id"], [[2.0, 3.0, -1.0]])

Every error the API answers raises ``ApiError``, which carries the problem document.
"""

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "pruned"})
ACTIVE = ("queued", "running", "cancelling")
SWEEP_ENDED = frozenset({"succeeded", "failed", "cancelled"})
# A stream is silent for at most the server's heartbeat (5 s by default) between two events.
STREAM_READ_TIMEOUT = 60.0
# A stream refused for now (429: the owner's streams are all open; 503: the server's) is tried
# again after its Retry-After, this many times in a row before the refusal is raised.
BUSY = frozenset({429, 503})
MAX_BUSY_RETRIES = 12


class ApiError(Exception):
    """The API answered with an error; ``problem`` is its RFC 9457 problem document."""

    def __init__(self, problem: dict[str, Any]) -> None:
        self.problem = problem
        self.status: int = problem.get("status", 0)
        super().__init__(f"{self.status} {problem.get('title', 'Error')}: {problem.get('detail')}")


@dataclass(frozen=True)
class Event:
    """One event of a job's stream: ``status`` or ``epoch``, its id and its data."""

    id: str
    event: str
    data: dict[str, Any]


class Client:
    """A connection to one Gradyard server, acting for the owner of ``token`` (if any)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def submit(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a job spec; the queued job's document."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._json("POST", "/api/v1/jobs", json=spec, headers=headers)

    def get(self, job_id: str) -> dict[str, Any]:
        """The job's document: status, progress, latest loss, timings."""
        return self._json("GET", f"/api/v1/jobs/{job_id}")

    def jobs(self, status: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The caller's jobs, newest first (``limit`` of them at most), following every page."""
        first: dict[str, Any] = {"status": status} if status else {}
        if limit is not None:
            first["limit"] = min(limit, 1000)  # the API's largest page
        yield from self._pages("/api/v1/jobs", first or None, limit)

    def losses(
        self, job_id: str, every: int = 1, page_size: int = 10_000
    ) -> Iterator[dict[str, Any]]:
        """Every recorded ``{"epoch", "loss", "accuracy", "rmse", "val_loss", "val_accuracy",
        "val_rmse"}`` (every ``every``-th one) in epoch order, fetching ``page_size`` at a time.
        The val_ measures are null for a job without validation."""
        params = {"limit": page_size, "every": every}
        yield from self._pages(f"/api/v1/jobs/{job_id}/losses", params)

    def weights(self, job_id: str) -> dict[str, Any]:
        """The trained weights (the engine's JSON) of a succeeded job."""
        return self._json("GET", f"/api/v1/jobs/{job_id}/weights")

    def predict(self, job_id: str, inputs: list[list[float]]) -> list[Any]:
        """The model's outputs for ``inputs``: a number per sample (a list for several outputs)."""
        outputs: list[Any] = self.prediction(job_id, inputs)["outputs"]
        return outputs

    def prediction(self, job_id: str, inputs: list[list[float]]) -> dict[str, Any]:
        """The whole answer for ``inputs``: ``outputs``, and for a classifier ``classes`` (and
        ``probabilities``, but for hinge)."""
        answer: dict[str, Any] = self._json(
            "POST", f"/api/v1/jobs/{job_id}/predict", json={"inputs": inputs}
        )
        return answer

    def export(self, job_id: str, format: str = "py", dtype: str | None = None) -> bytes:
        """A succeeded job's model as a file: "py" (Python source) or "onnx" (dtype: "float64",
        the default, or "float32")."""
        params = {"dtype": dtype} if dtype is not None else None
        response = self._http.get(f"/api/v1/jobs/{job_id}/model.{format}", params=params)
        if response.is_error:
            raise _api_error(response)
        return response.content

    def upload_dataset(
        self,
        source: str | os.PathLike[str] | dict[str, Any],
        name: str | None = None,
        target: str | None = None,
    ) -> dict[str, Any]:
        """Upload a dataset: a CSV file's path (``target`` names its target column, default the
        last), or a dict of ``inputs``, ``targets`` (and ``feature_names``); its document. The
        same content uploaded again answers the dataset already stored."""
        if isinstance(source, dict):
            body = {**source, **({"name": name} if name else {})}
            return self._json("POST", "/api/v1/datasets", json=body)
        params = {k: v for k, v in (("name", name), ("target", target)) if v is not None}
        content = Path(source).read_bytes()
        headers = {"Content-Type": "text/csv"}
        return self._json(
            "POST", "/api/v1/datasets", content=content, headers=headers, params=params
        )

    def datasets(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The caller's datasets, newest first (``limit`` of them at most), following pages."""
        params = {"limit": min(limit, 1000)} if limit else None
        yield from self._pages("/api/v1/datasets", params, limit)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """A dataset's document, with a preview of its first rows and its columns' statistics."""
        return self._json("GET", f"/api/v1/datasets/{dataset_id}")

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset that no active job uses."""
        response = self._http.request("DELETE", f"/api/v1/datasets/{dataset_id}")
        if response.status_code >= 400:
            raise _api_error(response)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued job, or ask a running one to stop; the job's document."""
        return self._json("POST", f"/api/v1/jobs/{job_id}/cancel")

    def events(
        self,
        job_id: str,
        last_event_id: str | None = None,
        timeout: float | None = None,
        points: int | None = None,
    ) -> Iterator[Event]:
        """The job's live events until its terminal status, reconnecting where a stream ends.

        With ``timeout``, raises ``TimeoutError`` once that many seconds have passed, whether or
        not anything arrives meanwhile (the server's keep-alives end each wait within seconds).
        ``points``: at most this many points in an epoch event (the server's default: 500).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        busy_retries = 0
        while True:
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            url = f"/api/v1/jobs/{job_id}/events"
            if points is not None:
                url += f"?points={points}"
            try:
                read = _read_timeout(deadline)
                with self._http.stream("GET", url, headers=headers, timeout=read) as response:
                    if response.status_code == 204:
                        return  # the server says we have seen the end already
                    if response.status_code in BUSY and busy_retries < MAX_BUSY_RETRIES:
                        # Too many streams open (ours, or the server's): wait as it says, retry.
                        busy_retries += 1
                        _check(deadline, job_id, timeout)
                        time.sleep(_retry_after(response))
                        continue
                    if response.is_error:
                        response.read()
                        raise _api_error(response)
                    busy_retries = 0
                    for event in _parse_sse(response.iter_lines(), deadline):
                        last_event_id = event.id
                        yield event
                        if event.event == "status" and event.data["status"] in TERMINAL:
                            return
            except httpx.ReadTimeout:
                if deadline is None or time.monotonic() < deadline:
                    raise
            _check(deadline, job_id, timeout)
            time.sleep(0.2)  # the server ended a long stream: resume from the last id

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Block until the job ends (``TimeoutError`` after ``timeout`` s); its final document.

        ``on_progress`` is called once per progress event: one per batch of epochs the worker
        saved (every few hundred milliseconds), not once per epoch. Its argument holds the newest
        ``epoch``, ``epochs``, ``loss``, ``accuracy``, ``rmse``, ``val_loss``, ``val_accuracy``
        and ``val_rmse``, and ``points``: ``[epoch, loss, accuracy, rmse, val_loss,
        val_accuracy, val_rmse]`` rows of the batch's epochs (at most 500, evenly spaced, the
        newest last).
        """
        # Waiting alone needs no curve: the server then reads and sends none.
        points = None if on_progress is not None else 0
        for event in self.events(job_id, timeout=timeout, points=points):
            if event.event == "epoch" and on_progress is not None:
                on_progress(event.data)
        return self.get(job_id)

    def submit_sweep(
        self, request: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a sweep (a base spec and how its trials vary); the sweep's document."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._json("POST", "/api/v1/sweeps", json=request, headers=headers)

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        """A sweep's document: its status, its trials counted by status, and the best trial."""
        return self._json("GET", f"/api/v1/sweeps/{sweep_id}")

    def trials(self, sweep_id: str, sort: str | None = None) -> list[dict[str, Any]]:
        """Every trial of a sweep; ``sort``: "objective" (best first) or a param's path."""
        params = {"sort": sort} if sort else None
        items: list[dict[str, Any]] = self._json(
            "GET", f"/api/v1/sweeps/{sweep_id}/trials", params=params
        )["items"]
        return items

    def cancel_sweep(self, sweep_id: str) -> dict[str, Any]:
        """Cancel every trial of a sweep still queued or running; the sweep's document."""
        return self._json("POST", f"/api/v1/sweeps/{sweep_id}/cancel")

    def wait_sweep(
        self,
        sweep_id: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
        poll: float = 1.0,
    ) -> dict[str, Any]:
        """Poll until every trial has ended (``TimeoutError`` after ``timeout`` s); the sweep's
        final document. ``on_progress`` gets each document polled meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            sweep = self.sweep(sweep_id)
            if on_progress is not None:
                on_progress(sweep)
            if sweep["status"] in SWEEP_ENDED and not any(sweep["counts"].get(s) for s in ACTIVE):
                return sweep
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"sweep {sweep_id} still {sweep['status']} after {timeout} s")
            time.sleep(poll)

    def _pages(
        self, url: str, params: dict[str, Any] | None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items of a listing (``limit`` of them at most), following its ``next`` links."""
        count = 0
        next_url: str | None = url
        while next_url:
            page = self._json("GET", next_url, params=params)
            params = None  # the next link carries the query (httpx would replace it)
            for item in page["items"]:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            next_url = page["next"]

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._http.request(method, url, **kwargs)
        if response.is_error:
            raise _api_error(response)
        return response.json()


def _retry_after(response: httpx.Response) -> float:
    """The seconds a 429 or 503 asks to wait (Retry-After), within reason."""
    try:
        seconds = float(response.headers.get("Retry-After", "5"))
    except ValueError:
        seconds = 5.0
    return min(max(seconds, 0.5), 60.0)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        # Not one of ours (a proxy's error page, say): describe it in the same shape.
        problem = {
            "type": "about:blank",
            "title": response.reason_phrase,
            "status": response.status_code,
            "detail": response.text[:200] or response.reason_phrase,
        }
    return ApiError(problem)


def _read_timeout(deadline: float | None) -> httpx.Timeout:
    """How long one read of a stream may wait: the usual, or what is left before the deadline."""
    read = STREAM_READ_TIMEOUT
    if deadline is not None:
        read = max(0.1, min(read, deadline - time.monotonic()))
    return httpx.Timeout(10.0, read=read)


def _check(deadline: float | None, job_id: str, timeout: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"job {job_id} did not finish within {timeout} s")


def _parse_sse(lines: Iterator[str], deadline: float | None = None) -> Iterator[Event]:
    """Events from Server-Sent Events lines (comments and ``retry`` lines are skipped).

    Every line, a keep-alive comment too, is a chance to notice that ``deadline`` has passed.
    """
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("the deadline passed while waiting for events")
        if not line:
            if data:
                yield Event(fields.get("id", ""), fields.get("event", "message"), _load(data))
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("id", "event"):
            fields[name] = value


def _load(data: list[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads("\n".join(data))
    return document
