"""The SLA sweep job: registered and scheduled, pointed at the app's database at startup."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core import jobs
from kefu.core.db import Database, utcnow
from kefu.tickets import tasks
from kefu.tickets.models import Ticket
from tests.fixtures.factories import MakeUser
from tests.tickets.conftest import actor_of, new_ticket


def test_sweep_is_registered_every_30_seconds() -> None:
    assert jobs.registered_jobs()["tickets.sweep_sla"] is tasks.sweep_sla
    assert any(s.name == "tickets.sweep_sla" and s.every_s == 30 for s in jobs._schedules)


async def test_job_runs_on_the_app_database(
    app: FastAPI, db: Database, tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, now=utcnow() - timedelta(days=7))
    jobs.use_job_sessionmaker(None)
    async with app.router.lifespan_context(app):
        result = await tasks.sweep_sla()
        assert result.breached == 1
        assert (await tasks.sweep_sla()).breached == 0
    async with db.sessionmaker() as s:
        fresh = await s.get(Ticket, ticket.id)
        assert fresh is not None and fresh.breach_notified_at is not None
