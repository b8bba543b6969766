"""Ticket jobs: the SLA sweep, run every 30 seconds by the job runner's scheduler.

Due timestamps in the database are the source of truth, so a sweep missed during a restart
simply acts on the next run; claiming rows with UPDATE … RETURNING keeps two workers from
acting twice on the same breach.
"""

from __future__ import annotations

import structlog

from kefu.core.jobs import job, job_session, schedule
from kefu.tickets import sla

log = structlog.get_logger(__name__)


@job("tickets.sweep_sla")
async def sweep_sla() -> sla.SweepResult:
    async with job_session() as session:
        result = await sla.sweep(session)
        await session.commit()
    if result.warned or result.breached:
        log.info("sla_sweep", warned=result.warned, breached=result.breached)
    return result


schedule("tickets.sweep_sla", 30)
