"""Request bodies: ``MAX_BODY_BYTES`` holds on the bytes actually read, however they are framed.

Werkzeug refuses a ``Content-Length`` over the limit at once, but a body sent with
``Transfer-Encoding: chunked`` has no length to refuse it by: Werkzeug then reads up to the limit
and stops there without a word, so a long body was silently cut (and, padded with spaces, still
valid JSON). Here the stream stops one byte past the limit instead, and that byte is a 413.
"""

import io
from typing import IO, cast

from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream


class Request(FlaskRequest):
    """Flask's request, whose body stream raises a 413 past ``max_content_length``."""

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, at most ``max_content_length`` bytes of it; one more is a 413."""
        limit = self.max_content_length
        if self.shallow or limit is None:
            return super().stream
        # One byte more than allowed, so that a body of exactly the limit reads whole.
        capped = _Capped(get_input_stream(self.environ, max_content_length=limit + 1), limit)
        return cast(IO[bytes], capped)


class _Capped(io.RawIOBase):
    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._limit, self._read = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)
