"""The sliding window behind the sign-in limit, in memory and in Redis."""

from __future__ import annotations

import pytest

from kefu.accounts import ratelimit
from kefu.accounts.ratelimit import MemoryRateLimiter, RedisRateLimiter, login_limiter
from kefu.core.config import Settings


async def test_memory_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    limiter = MemoryRateLimiter(limit=2, window_s=60)
    await limiter.hit("ip:a")
    now[0] += 30
    await limiter.hit("ip:a")
    assert await limiter.is_limited("ip:a")
    assert not await limiter.is_limited("ip:b")  # keys are independent
    now[0] += 31  # the first hit has left the window, the second has not
    assert not await limiter.is_limited("ip:a")
    await limiter.hit("ip:a")
    assert await limiter.is_limited("ip:a")
    await limiter.reset("ip:a")
    assert not await limiter.is_limited("ip:a")


def test_limiter_follows_settings(settings: Settings) -> None:
    memory = login_limiter(settings.model_copy(update={"login_rate_per_minute": 7}))
    assert isinstance(memory, MemoryRateLimiter) and memory.limit == 7


@pytest.mark.redis
async def test_redis_window_is_shared_between_processes(redis_url: str) -> None:
    first = RedisRateLimiter(redis_url, limit=3, window_s=60, prefix="kefu:test-rl:")
    second = RedisRateLimiter(redis_url, limit=3, window_s=60, prefix="kefu:test-rl:")
    try:
        await first.reset("ip:1")
        await first.hit("ip:1")
        await second.hit("ip:1")
        assert not await first.is_limited("ip:1")
        await first.hit("ip:1")
        assert await second.is_limited("ip:1")  # the other process sees the same window
        assert not await second.is_limited("ip:2")
        await second.reset("ip:1")
        assert not await first.is_limited("ip:1")
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
def test_redis_limiter_chosen_when_redis_is_configured(redis_url: str, settings: Settings) -> None:
    limiter = login_limiter(settings.model_copy(update={"redis_url": redis_url}))
    assert isinstance(limiter, RedisRateLimiter)
