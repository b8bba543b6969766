"""Ticket jobs: the SLA sweep, run every 30 seconds by the job runner's scheduler.

Due timestamps in the database are the source of truth, so a sweep missed during a restart
simply acts on the next run; claiming rows with UPDATE … RETURNING keeps two workers from
acting twice on the same breach.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker

from kefu.core.config import get_settings
from kefu.core.db import make_engine
from kefu.core.jobs import job, schedule
from kefu.tickets import sla

log = structlog.get_logger(__name__)

_sessionmaker: async_sessionmaker | None = None


def _sessions() -> async_sessionmaker:
    global _sessionmaker
    if _sessionmaker is None:
        engine = make_engine(get_settings().database_url)
        _sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    return _sessionmaker


def use_sessionmaker(maker: async_sessionmaker | None) -> None:
    """Point the sweep at a given database (the app at startup, tests)."""
    global _sessionmaker
    _sessionmaker = maker


@job("tickets.sweep_sla")
async def sweep_sla() -> sla.SweepResult:
    async with _sessions()() as session:
        result = await sla.sweep(session)
        await session.commit()
    if result.warned or result.breached:
        log.info("sla_sweep", warned=result.warned, breached=result.breached)
    return result


schedule("tickets.sweep_sla", 30)
