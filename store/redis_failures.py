"""What a call to Redis can raise when the server is slow, stalled or gone: one definition.

``ValueError`` belongs here too. When a new connection's handshake times out under load,
redis-py closes its read buffer and its retry then reads from it ("I/O operation on closed
file"); CI once saw that reach the server as a 500 at an event stream's start.
"""

import redis

REDIS_FAILURES = (redis.RedisError, OSError, ValueError)
