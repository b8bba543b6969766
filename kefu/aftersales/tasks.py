"""After-sales jobs: timeouts (return not shipped in time, shop not answering), every minute.

The timers are due timestamps on the cases (see timeouts.py), so a missed run loses nothing.
"""

from __future__ import annotations

import structlog

from kefu.aftersales import timeouts
from kefu.core.jobs import job, job_session, schedule

log = structlog.get_logger(__name__)


@job("aftersales.sweep_timeouts")
async def sweep_timeouts() -> timeouts.SweepResult:
    async with job_session() as session:
        result = await timeouts.sweep_timeouts(session)
        await session.commit()
    if result.closed or result.escalated:
        log.info(
            "aftersales_sweep",
            closed=result.closed,
            escalated=result.escalated,
            auto_approved=result.auto_approved,
        )
    return result


schedule("aftersales.sweep_timeouts", 60)
