"""Sliding-window rate limits, used to slow down password guessing per client IP.

The window is exact, not bucketed: a key may record at most `limit` hits in any `window_s`
seconds. One process keeps hits in memory; with `KEFU_REDIS_URL` set every web process shares
one sorted set per key in Redis, so a guesser cannot spread attempts across processes.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from typing import Any, Protocol

from kefu.core.config import Settings


class RateLimiter(Protocol):
    limit: int
    window_s: float

    async def is_limited(self, key: str) -> bool: ...

    async def hit(self, key: str) -> None: ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """In-process sliding window: a deque of hit times per key."""

    # Forget idle keys once the map grows past this, so a scan of many IPs cannot grow memory.
    _SWEEP_AT = 10_000

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    async def is_limited(self, key: str) -> bool:
        return len(self._recent(key, time.monotonic())) >= self.limit

    async def hit(self, key: str) -> None:
        now = time.monotonic()
        self._recent(key, now).append(now)
        if len(self._hits) > self._SWEEP_AT:
            for name in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
                del self._hits[name]

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    async def close(self) -> None:
        self._hits.clear()


class RedisRateLimiter:
    """The same window in a Redis sorted set (member = unique hit id, score = time)."""

    def __init__(self, url: str, limit: int, window_s: float = 60.0, prefix: str = "kefu:rl:"):
        import redis.asyncio as redis

        self.limit = limit
        self.window_s = window_s
        self._prefix = prefix
        self._redis: Any = redis.from_url(url)

    async def is_limited(self, key: str) -> bool:
        name = self._prefix + key
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, 0, now - self.window_s)
            pipe.zcard(name)
            _, count = await pipe.execute()
        return int(count) >= self.limit

    async def hit(self, key: str) -> None:
        name = self._prefix + key
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, 0, now - self.window_s)
            pipe.zadd(name, {f"{now}:{secrets.token_hex(4)}": now})
            pipe.expire(name, int(self.window_s) + 1)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


def login_limiter(settings: Settings) -> RateLimiter:
    """Failed sign-ins per client IP per minute (`KEFU_LOGIN_RATE_PER_MINUTE`)."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.login_rate_per_minute, 60.0)
    return MemoryRateLimiter(settings.login_rate_per_minute, 60.0)


def app_limiter(app: Any, name: str, limit: int, window_s: float) -> RateLimiter:
    """The app's limiter called `name` (e.g. a public form's submissions per IP), created on
    first use: in memory, or shared through Redis in cluster mode. Closed with the app."""
    limiters: dict[str, RateLimiter] = app.state.__dict__.setdefault("rate_limiters", {})
    limiter = limiters.get(name)
    if limiter is None:
        settings: Settings = app.state.settings
        limiter = (
            RedisRateLimiter(settings.redis_url, limit, window_s, f"kefu:rl:{name}:")
            if settings.redis_url
            else MemoryRateLimiter(limit, window_s)
        )
        limiters[name] = limiter
    return limiter


async def close_app_limiters(app: Any) -> None:
    for limiter in getattr(app.state, "rate_limiters", {}).values():
        await limiter.close()
