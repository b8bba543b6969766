"""Runs the demo's service calls "in the past": each at its own demo time.

The services stamp what they write with the real clock (`utcnow()`), which is right for a
live shop and wrong for a history that should look like the last few days. So every step runs
in its own slice of real time, and afterwards `backdate` moves every timestamp written inside
a slice by that slice's offset — in every table, so a message, its log event, the chat's cached
`waiting_since`, the bot's turn, the audit entry and a refund all land at the same demo moment.
Steps run in the order of their demo times, so ids (the event log's resume cursor among them)
still grow with time.

A deadline a service computes from "now" (an after-sales answer due in 24 hours) lies outside
every slice; the step that set it names it with `follow`, and it moves with that step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core import events, jobs
from kefu.core.db import Base, UTCDateTime, utcnow


def forget_side_effects(session: AsyncSession) -> None:
    """Drop the live pushes and jobs the services queued (bot replies already given, queue
    positions, notices): they describe the history as if it were happening now.

    Dropped after every step, not once at the end: the buffers are also sent when a savepoint
    inside a service is released, and a job sent then would run against an uncommitted load.
    The buffers' keys are private to those modules, which offer no public way to drop them."""
    jobs.discard_pending(session)
    events.discard_pending(session)


@dataclass(frozen=True)
class _Slice:
    start: datetime
    end: datetime
    offset: timedelta  # demo time minus real start


@dataclass
class DemoClock:
    session: AsyncSession
    slices: list[_Slice] = field(default_factory=list)
    followed: list[tuple[Table, Any, str, int]] = field(default_factory=list)

    async def run(self, at: datetime, step: Callable[[], Awaitable[object]]) -> None:
        """Run `step` as if at demo time `at`; its writes are flushed inside its slice."""
        start = utcnow()
        while self.slices and start <= self.slices[-1].end:
            start = utcnow()  # slices never share a microsecond
        await step()
        await self.session.flush()
        forget_side_effects(self.session)
        self.slices.append(_Slice(start, utcnow(), at - start))

    def follow(self, model: type[Base], row_id: Any, column: str) -> None:
        """Called inside a step: `column` of that row was set from "now" by this step (a
        deadline), so it moves with the step's slice."""
        table: Table = model.__table__  # type: ignore[assignment]
        self.followed.append((table, row_id, column, len(self.slices)))

    def _moved(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        for s in self.slices:
            if s.start <= value <= s.end:
                return value + s.offset
        return value

    async def backdate(self) -> int:
        """Move every timestamp written during the steps to its demo time; returns how many."""
        if not self.slices:
            return 0
        import kefu.models  # noqa: F401  (every table, not only those imported so far)

        low, high = self.slices[0].start, self.slices[-1].end
        moved = 0
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
            keys = list(table.primary_key.columns)
            if not columns or len(keys) != 1:
                continue
            key = keys[0]
            rows = (
                await self.session.execute(
                    select(key, *columns).where(or_(*(c.between(low, high) for c in columns)))
                )
            ).all()
            if not rows:
                continue
            # Every datetime column is written back: moved if inside a slice, else as it was.
            params = [
                {
                    "_key": row[0],
                    **{
                        f"_{c.name}": self._moved(value)
                        for c, value in zip(columns, row[1:], strict=True)
                    },
                }
                for row in rows
            ]
            statement = (
                update(table)
                .where(key == bindparam("_key", type_=key.type))
                .values({c.name: bindparam(f"_{c.name}", type_=c.type) for c in columns})
            )
            await self.session.execute(statement, params)
            moved += len(rows)
        for table, row_id, column, index in self.followed:
            offset = self.slices[index].offset
            key = next(iter(table.primary_key.columns))
            value = await self.session.scalar(select(table.c[column]).where(key == row_id))
            if value is not None:
                await self.session.execute(
                    update(table).where(key == row_id).values({column: value + offset})
                )
        return moved
