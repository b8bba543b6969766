"""Background jobs: named functions that take ids and open their own session.

`enqueue(session, "store.notify", order_id=1)` buffers the job on the session and hands it
to the runner only after commit. The default runner executes jobs in-process as asyncio tasks
with retries; the cluster mode backs the same interface with a Redis queue and separate
`kefu worker` processes. Periodic work (sweeps) is registered with `schedule` and run by the
runner's scheduler; due timestamps in the database stay the source of truth, so a restart
loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.core.aftercommit import AfterCommit

log = structlog.get_logger(__name__)

JobFunc = Callable[..., Awaitable[Any]]
_BUFFER_KEY = "kefu_pending_jobs"
_registry: dict[str, JobFunc] = {}


@dataclass(frozen=True)
class Schedule:
    name: str
    every_s: float


_schedules: list[Schedule] = []


def job(name: str) -> Callable[[JobFunc], JobFunc]:
    """Register a job under `"<domain>.<verb>"`."""

    def register(func: JobFunc) -> JobFunc:
        if name in _registry and _registry[name] is not func:
            raise ValueError(f"job {name!r} registered twice")
        _registry[name] = func
        return func

    return register


def schedule(name: str, every_s: float) -> None:
    _schedules.append(Schedule(name, every_s))


def registered_jobs() -> dict[str, JobFunc]:
    return dict(_registry)


_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def use_job_sessionmaker(maker: async_sessionmaker[AsyncSession] | None) -> None:
    """Point jobs at a database: the app's own at startup (tests run several apps), or
    None to let the next job open one from the settings (`kefu worker`)."""
    global _sessionmaker
    _sessionmaker = maker


@asynccontextmanager
async def job_session() -> AsyncIterator[AsyncSession]:
    """A session for a job; the job commits what it wants kept."""
    global _sessionmaker
    if _sessionmaker is None:
        from kefu.core.config import get_settings
        from kefu.core.db import make_engine

        engine = make_engine(get_settings().database_url)
        _sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    async with _sessionmaker() as session:
        yield session


class JobRunner(Protocol):
    async def submit(self, name: str, kwargs: dict[str, Any]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessJobRunner:
    def __init__(self, max_attempts: int = 3, backoff_s: float = 0.5) -> None:
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: list[asyncio.Task[None]] = []

    async def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        if name not in _registry:
            raise KeyError(f"unknown job {name!r}")
        task = asyncio.get_running_loop().create_task(self._run(name, kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await _registry[name](**kwargs)
                return
            except Exception:
                log.exception("job_failed", job=name, attempt=attempt)
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))

    async def _every(self, item: Schedule) -> None:
        while True:
            await asyncio.sleep(item.every_s)
            await self._run(item.name, {})

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._scheduler = [loop.create_task(self._every(s)) for s in _schedules]

    async def stop(self) -> None:
        for task in self._scheduler:
            task.cancel()
        await self.drain()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


_runner: JobRunner = InProcessJobRunner()


def get_runner() -> JobRunner:
    return _runner


def set_runner(runner: JobRunner) -> None:
    global _runner
    _runner = runner


def enqueue(session: AsyncSession, name: str, **kwargs: Any) -> None:
    if name not in _registry:
        raise KeyError(f"unknown job {name!r}")
    _after_commit.add(session.sync_session, (name, kwargs))


def pending_jobs(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """What this session will submit on commit (for tests)."""
    return _after_commit.pending(session.sync_session)


def discard_pending(session: AsyncSession) -> None:
    """Drop the jobs this session would submit on commit."""
    _after_commit.discard(session.sync_session)


def _submit(pending: list[tuple[str, dict[str, Any]]]) -> None:
    runner = get_runner()

    async def send() -> None:
        for name, kwargs in pending:
            await runner.submit(name, kwargs)

    loop = asyncio.get_running_loop()
    task = loop.create_task(send())
    _inflight.add(task)
    task.add_done_callback(_inflight.discard)


_inflight: set[asyncio.Task[None]] = set()


async def drain() -> None:
    """Wait until every committed job was submitted and, in-process, has finished."""
    while _inflight:
        await asyncio.gather(*list(_inflight), return_exceptions=True)
    runner = get_runner()
    if isinstance(runner, InProcessJobRunner):
        await runner.drain()


_after_commit = AfterCommit(_BUFFER_KEY, _submit)


class RedisJobRunner:
    """Cluster mode: jobs go to an arq queue in Redis and run in `kefu worker` processes.

    At-least-once: arq re-runs a job whose worker died; a job that raises is retried with
    backoff up to `max_attempts`. Periodic sweeps run in the workers, not in web processes.
    """

    def __init__(self, url: str, queue_name: str = "kefu:jobs") -> None:
        self.url = url
        self.queue_name = queue_name
        self._pool: Any = None

    async def start(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self._pool = await create_pool(
            RedisSettings.from_dsn(self.url), default_queue_name=self.queue_name
        )

    async def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        if name not in _registry:
            raise KeyError(f"unknown job {name!r}")
        if self._pool is None:
            await self.start()
        await self._pool.enqueue_job("run_registered_job", name, kwargs)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


MAX_ATTEMPTS = 5


async def run_registered_job(ctx: dict[str, Any], name: str, kwargs: dict[str, Any]) -> None:
    """The one arq function: looks the job up by name, retries with backoff on failure."""
    from arq.worker import Retry

    try:
        await _registry[name](**kwargs)
    except Exception as exc:
        attempt = int(ctx.get("job_try", 1))
        log.exception("job_failed", job=name, attempt=attempt)
        if attempt < MAX_ATTEMPTS:
            raise Retry(defer=0.5 * 2 ** (attempt - 1)) from exc
        raise


def worker_settings(url: str, *, burst: bool = False, queue_name: str = "kefu:jobs") -> Any:
    """Keyword arguments for `arq.worker.Worker` running Kefu's jobs and sweeps."""
    from arq.connections import RedisSettings

    sweeps: list[asyncio.Task[None]] = []

    async def on_startup(ctx: dict[str, Any]) -> None:
        runner = InProcessJobRunner()
        loop = asyncio.get_running_loop()
        sweeps.extend(loop.create_task(runner._every(s)) for s in _schedules)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        for task in sweeps:
            task.cancel()

    return {
        "functions": [run_registered_job],
        "redis_settings": RedisSettings.from_dsn(url),
        "queue_name": queue_name,
        "burst": burst,
        "max_tries": MAX_ATTEMPTS,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "handle_signals": not burst,
    }
