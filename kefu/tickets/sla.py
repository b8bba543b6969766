"""SLA targets, the due timestamps they produce, pausing, and the breach sweep.

How the clock works: when a ticket is created its policy (the most specific active
SlaPolicy matching priority × customer tier × type) yields three due times counted in
business time — first response, next response (set when the customer writes and we owe an
answer), resolution. `sla_due_at` caches the earliest target still running and
`sla_warn_at` the moment the configured share of that target is used up. While the ticket
waits for the customer the clock is paused (`sla_paused_at`); on resume every due time moves
later by the business time spent paused. Resolved and closed tickets have no due time.

The sweep (`sweep`) claims due rows with one `UPDATE … WHERE breach_notified_at IS NULL AND
sla_due_at <= now RETURNING id`, so two workers never act on the same breach, then applies
the policy's escalation: notify supervisors, raise priority, reassign to a group. A new
target (e.g. after the first response) clears `breach_notified_at`, so each target breaches
at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.events import queue_event
from kefu.tickets import settings as ticket_settings
from kefu.tickets.calendar import BusinessCalendar
from kefu.tickets.enums import CLOCK_RUNNING, TicketStatus, raised
from kefu.tickets.models import CalendarDay, SlaPolicy, Ticket, TicketMessage

DUE_KIND_LABELS: dict[str, tuple[str, str]] = {
    "first_response": ("首次响应", "First response"),
    "next_response": ("再次响应", "Next response"),
    "resolution": ("解决", "Resolution"),
}


async def load_calendar(session: AsyncSession) -> BusinessCalendar:
    data = await ticket_settings.get_settings(session)
    hours = data["business_hours"]
    rows = (await session.scalars(select(CalendarDay))).all()
    return BusinessCalendar(
        timezone=hours.get("timezone", "Asia/Shanghai"),
        day_start=time.fromisoformat(hours.get("day_start", "09:00")),
        day_end=time.fromisoformat(hours.get("day_end", "18:00")),
        weekdays=frozenset(int(d) for d in hours.get("weekdays", [0, 1, 2, 3, 4])),
        holidays=frozenset(r.day for r in rows if r.kind == "holiday"),
        workdays=frozenset(r.day for r in rows if r.kind == "workday"),
    )


def _calendar_for(policy: SlaPolicy | None, calendar: BusinessCalendar) -> BusinessCalendar:
    if policy is not None and not policy.business_hours:
        return BusinessCalendar(timezone=calendar.timezone, always_open=True)
    return calendar


def match_policy(
    policies: list[SlaPolicy], priority: str, tier: str, type_code: str
) -> SlaPolicy | None:
    """The most specific matching policy; among equally specific ones the strictest."""
    best: tuple[int, int, int] | None = None
    chosen: SlaPolicy | None = None
    for policy in policies:
        if not policy.is_active:
            continue
        fields = (
            (policy.priority, priority),
            (policy.customer_tier, tier),
            (policy.type_code, type_code),
        )
        if any(want is not None and want != have for want, have in fields):
            continue
        specificity = sum(want is not None for want, _ in fields)
        key = (-specificity, policy.first_response_minutes, policy.id or 0)
        if best is None or key < best:
            best, chosen = key, policy
    return chosen


async def policy_for(session: AsyncSession, ticket: Ticket) -> SlaPolicy | None:
    policies = list((await session.scalars(select(SlaPolicy))).all())
    return match_policy(policies, ticket.priority, ticket.customer_tier, ticket.type_code)


@dataclass
class Clock:
    """What a ticket's SLA needs: its policy and the calendar the policy counts in."""

    policy: SlaPolicy | None
    calendar: BusinessCalendar
    warn_ratio: float


async def clock_for(session: AsyncSession, ticket: Ticket) -> Clock:
    policy = await policy_for(session, ticket)
    base = await load_calendar(session)
    data = await ticket_settings.get_settings(session)
    ratio = policy.warn_ratio if policy is not None else float(data.get("warn_ratio", 0.8))
    return Clock(policy, _calendar_for(policy, base), ratio)


def start_clock(ticket: Ticket, clock: Clock, now: datetime) -> None:
    """Set first-response and resolution targets for a new (or re-prioritised) ticket."""
    ticket.sla_policy_id = clock.policy.id if clock.policy is not None else None
    if clock.policy is None:
        ticket.first_response_due_at = ticket.resolution_due_at = None
    else:
        if ticket.first_responded_at is None:
            ticket.first_response_due_at = clock.calendar.add(
                ticket.created_at or now, clock.policy.first_response_minutes
            )
        ticket.resolution_due_at = clock.calendar.add(
            ticket.created_at or now, clock.policy.resolution_minutes
        )
    refresh_due(ticket, clock, now)


def _targets(ticket: Ticket) -> list[tuple[datetime, str]]:
    targets: list[tuple[datetime, str]] = []
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        targets.append((ticket.first_response_due_at, "first_response"))
    if ticket.next_response_due_at is not None:
        targets.append((ticket.next_response_due_at, "next_response"))
    if ticket.resolution_due_at is not None:
        targets.append((ticket.resolution_due_at, "resolution"))
    return targets


def _target_minutes(policy: SlaPolicy, kind: str) -> int:
    return {
        "first_response": policy.first_response_minutes,
        "next_response": policy.next_response_minutes,
        "resolution": policy.resolution_minutes,
    }[kind]


def refresh_due(ticket: Ticket, clock: Clock, now: datetime) -> None:
    """Recompute the cached earliest due time and its warning moment.

    A different target than the one already acted upon clears `breach_notified_at` and
    `sla_warned_at`, so the sweep can act on it once.
    """
    running = ticket.status in CLOCK_RUNNING or ticket.status == TicketStatus.pending_customer
    targets = _targets(ticket) if running else []
    if not targets:
        ticket.sla_due_at = ticket.sla_due_kind = ticket.sla_warn_at = None
        return
    due, kind = min(targets)
    if (due, kind) != (ticket.sla_due_at, ticket.sla_due_kind):
        if ticket.sla_due_kind != kind or (ticket.sla_due_at and due > ticket.sla_due_at):
            ticket.breach_notified_at = None
            ticket.sla_warned_at = None
        ticket.sla_due_at, ticket.sla_due_kind = due, kind
        if clock.policy is not None:
            lead = _target_minutes(clock.policy, kind) * (1 - clock.warn_ratio)
            ticket.sla_warn_at = clock.calendar.add(due, -lead)
        else:
            ticket.sla_warn_at = None


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, clock: Clock, now: datetime) -> None:
    """Move every running target later by the business time spent waiting for the customer."""
    if ticket.sla_paused_at is None:
        return
    paused = clock.calendar.minutes_between(ticket.sla_paused_at, now)
    ticket.sla_paused_at = None
    if paused > 0:
        for attr in ("first_response_due_at", "next_response_due_at", "resolution_due_at"):
            value = getattr(ticket, attr)
            if value is not None:
                setattr(ticket, attr, clock.calendar.add(value, paused))
    refresh_due(ticket, clock, now)


def remaining_seconds(ticket: Ticket, now: datetime) -> float | None:
    """Wall-clock seconds until the current due time (negative once breached)."""
    if ticket.sla_due_at is None:
        return None
    reference = ticket.sla_paused_at or now
    return (ticket.sla_due_at - reference).total_seconds()


def sla_state(ticket: Ticket, now: datetime) -> str:
    """none | paused | ok | warning | breached — for badges and filters."""
    if ticket.sla_due_at is None:
        return "none"
    if ticket.sla_paused_at is not None:
        return "paused"
    if ticket.sla_due_at <= now:
        return "breached"
    if ticket.sla_warn_at is not None and ticket.sla_warn_at <= now:
        return "warning"
    return "ok"


# ---- the sweep ---------------------------------------------------------------------------

SWEEP_BATCH = 500
_SYSTEM = Actor.system("sla")


def _due_filter(now: datetime) -> Any:
    return and_(
        Ticket.sla_due_at <= now,
        Ticket.breach_notified_at.is_(None),
        Ticket.sla_paused_at.is_(None),
        Ticket.status.in_([s.value for s in CLOCK_RUNNING]),
    )


@dataclass
class SweepResult:
    warned: int = 0
    breached: int = 0


async def _supervisor_ids(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(User.role.in_(("supervisor", "admin")), User.is_active.is_(True))
    )
    return list(rows.all())


async def sweep(session: AsyncSession, now: datetime | None = None) -> SweepResult:
    """Warn and escalate tickets whose targets came due. Safe to run concurrently."""
    now = now or utcnow()
    result = SweepResult()
    warned = await session.execute(
        update(Ticket)
        .where(
            Ticket.sla_warn_at <= now,
            Ticket.sla_warned_at.is_(None),
            Ticket.sla_paused_at.is_(None),
            or_(Ticket.sla_due_at > now, Ticket.sla_due_at.is_(None)),
            Ticket.status.in_([s.value for s in CLOCK_RUNNING]),
        )
        .values(sla_warned_at=now)
        .returning(Ticket.id, Ticket.number, Ticket.assignee_id, Ticket.group_id)
        .execution_options(synchronize_session=False)
    )
    for ticket_id, number, assignee_id, group_id in warned.all():
        result.warned += 1
        payload = {"type": "ticket.sla_warning", "ticket_id": ticket_id, "number": number}
        if assignee_id:
            queue_event(session, f"agent:{assignee_id}", payload)
        if group_id:
            queue_event(session, f"group:{group_id}", payload)

    claimed = await session.execute(
        update(Ticket)
        .where(_due_filter(now))
        .values(breach_notified_at=now, breached=True, escalation_level=Ticket.escalation_level + 1)
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in claimed.all()]
    if not ids:
        return result
    policies = {p.id: p for p in (await session.scalars(select(SlaPolicy))).all()}
    supervisors: list[int] | None = None
    for start in range(0, len(ids), SWEEP_BATCH):
        chunk = ids[start : start + SWEEP_BATCH]
        tickets = (
            await session.scalars(
                select(Ticket).where(Ticket.id.in_(chunk)).execution_options(populate_existing=True)
            )
        ).all()
        for ticket in tickets:
            result.breached += 1
            policy = policies.get(ticket.sla_policy_id) if ticket.sla_policy_id else None
            before = {"priority": ticket.priority, "group_id": ticket.group_id}
            actions: list[str] = []
            if policy is not None and policy.raise_priority:
                new_priority = raised(ticket.priority)
                if new_priority != ticket.priority:
                    ticket.priority = new_priority
                    actions.append(f"priority→{new_priority}")
            if (
                policy is not None
                and policy.escalate_group_id
                and ticket.group_id != policy.escalate_group_id
            ):
                ticket.group_id = policy.escalate_group_id
                ticket.assignee_id = None
                actions.append(f"group→{policy.escalate_group_id}")
            payload = {
                "type": "ticket.sla_breached",
                "ticket_id": ticket.id,
                "number": ticket.number,
                "target": ticket.sla_due_kind,
                "due_at": ticket.sla_due_at.isoformat() if ticket.sla_due_at else None,
            }
            if policy is None or policy.notify_supervisors:
                if supervisors is None:
                    supervisors = await _supervisor_ids(session)
                for uid in supervisors:
                    queue_event(session, f"agent:{uid}", payload)
                actions.append("notify_supervisors")
            if ticket.assignee_id:
                queue_event(session, f"agent:{ticket.assignee_id}", payload)
            kind_zh = DUE_KIND_LABELS.get(ticket.sla_due_kind or "", ("SLA", "SLA"))[0]
            session.add(
                TicketMessage(
                    ticket_id=ticket.id,
                    kind="event",
                    author_name="SLA",
                    body=f"{kind_zh}超时，已升级（{', '.join(actions) or '通知'}）",
                    created_at=now,
                )
            )
            await record_audit(
                session,
                _SYSTEM,
                "ticket.sla_breach",
                "ticket",
                ticket.id,
                before=before,
                after={
                    "priority": ticket.priority,
                    "group_id": ticket.group_id,
                    "target": ticket.sla_due_kind,
                    "escalation_level": ticket.escalation_level,
                },
                only_changes=False,
            )
    await session.flush()
    return result
