"""Token buckets shared by every process through Redis (or per process without it): one per connector
for deliveries, one per API key for the supplier API (config/api/throttling.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from django.conf import settings

# KEYS[1]: the bucket. ARGV: rate per second, burst, now (s). Returns {seconds to wait (0 = go), tokens left}.
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
return {tostring(wait), tostring(tokens)}
"""

_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()
_scripts: dict[str, Any] = {}


def _bucket_script() -> Any:
    """The token bucket as a registered script (Redis runs it by its hash: EVALSHA), one per Redis URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    if url not in _scripts:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        _scripts[url] = client.register_script(_TAKE)
    return _scripts[url]


def take(name: str, *, rate: float, burst: int) -> float:
    """Take one token from the connector's bucket. Returns 0 to go ahead, else seconds to wait.

    When Redis cannot be reached the bucket falls back to this process, so an
    outage of the cache slows nothing down but loosens the limit per worker.
    """
    wait, _ = take_counted(f"supplyline:ratelimit:{name}", rate=rate, burst=burst)
    return wait


def take_counted(key: str, *, rate: float, burst: int) -> tuple[float, float]:
    """Take one token from bucket ``key``: (seconds to wait, 0 to go ahead; tokens left)."""
    script = _bucket_script()
    now = time.time()
    if script is not None:
        try:
            wait, tokens = script(keys=[key], args=[rate, burst, now])
            return float(wait), float(tokens)
        except redis.RedisError:
            pass
    with _local_lock:
        tokens, at = _local.get(key, (float(burst), now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        if tokens >= 1:
            _local[key] = (tokens - 1, now)
            return 0.0, tokens - 1
        _local[key] = (tokens, now)
        return (1 - tokens) / rate, tokens
