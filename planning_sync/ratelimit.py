"""A token bucket per connector, shared by every worker through Redis (or per process without it)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from django.conf import settings

# KEYS[1]: the bucket. ARGV: rate per second, burst, now (s). Returns seconds to wait (0 = go).
_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()
_script: Any = None


def _bucket_script() -> Any:
    """The token bucket as a registered script: Redis runs it by its hash (EVALSHA), not by its text."""
    global _script
    if not settings.REDIS_URL:
        return None
    if _script is None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        _script = client.register_script(_TAKE)
    return _script


def take(name: str, *, rate: float, burst: int) -> float:
    """Take one token from the connector's bucket. Returns 0 to go ahead, else seconds to wait.

    When Redis cannot be reached the bucket falls back to this process, so an
    outage of the cache slows nothing down but loosens the limit per worker.
    """
    script = _bucket_script()
    now = time.time()
    if script is not None:
        try:
            return float(script(keys=[f"supplyline:ratelimit:{name}"], args=[rate, burst, now]))
        except redis.RedisError:
            pass
    with _local_lock:
        tokens, at = _local.get(name, (float(burst), now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        _local[name] = (tokens - 1 if tokens >= 1 else tokens, now)
        return wait
