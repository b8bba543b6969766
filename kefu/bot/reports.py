"""Bot reports (机器人报表): how much the bot solved on its own, why it handed over, what it
answered and what it could not, over a date range in the shop's time zone.

Two units are counted, and the page says which is which:

* **Bot conversations** — conversations with at least one `bot_turns` row whose *first* bot
  turn falls in the range (a conversation belongs to the day the bot first answered it). Each
  is exactly one of:
  - *handed over*: the bot handed it to a person (`bot_sessions.handed_off_at` set);
  - *agent stepped in*: not handed over, but a person replied to the customer in it (an agent
    took the chat from the queue or the bot's side of it);
  - *self-served*: neither — the customer got what they needed from the bot or left without
    asking for a person.
  Self-service rate = self-served / bot conversations; handoff rate = handed over / bot
  conversations (both as they stand when the report is run).
* **Bot turns** — customer messages the bot handled, in the range by their own time: the
  outcome mix, top FAQ answers, unanswered questions (outcome `none`, grouped by normalised
  text), the average confidence of the turns the bot understood (label other than `none`;
  for `none` the stored confidence means "sure it is nothing") and the customers' ratings.

Everything is aggregated in the database (GROUP BY, CASE); Python only divides. Local days
are bucketed with a CASE over the UTC instants of each local midnight, so the same SQL runs on
SQLite and PostgreSQL and time zones with summer time are counted right.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.models import BotSession, BotTurn
from kefu.conversations.models import Message
from kefu.core.errors import Invalid
from kefu.core.i18n import gettext as _
from kefu.knowledge.models import Faq
from kefu.store.models import Store

DEFAULT_DAYS = 7
MAX_DAYS = 92
TOP_N = 10
UNDERSTOOD_EXCLUDES = "none"


@dataclass(frozen=True)
class ReportRange:
    start: date  # first local day, inclusive
    end: date  # last local day, inclusive
    tz: ZoneInfo

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def midnights(self) -> list[datetime]:
        """The UTC instants of each local midnight from `start` to the day after `end`."""
        return [
            datetime.combine(d, time.min, tzinfo=self.tz)
            for d in [*self.days, self.end + timedelta(days=1)]
        ]


def _parse_day(value: str | None, name_zh: str, name_en: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(
            f"{name_zh}日期格式应为 YYYY-MM-DD", f"The {name_en} date must look like YYYY-MM-DD"
        ) from None


def report_range(
    start: str | None, end: str | None, tz_name: str, *, today: date | None = None
) -> ReportRange:
    """The range asked for, defaulting to the last `DEFAULT_DAYS` days up to today."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("Asia/Shanghai")
    today = today or datetime.now(tz).date()
    last = _parse_day(end, "结束", "end") or today
    first = _parse_day(start, "开始", "start") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise Invalid("结束日期不能早于开始日期", "The end date cannot be before the start date")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(
            f"一次最多查看 {MAX_DAYS} 天", f"A report covers at most {MAX_DAYS} days at a time"
        )
    return ReportRange(first, last, tz)


class _Outcomes:
    """How a set of bot conversations ended: each is exactly one of handed over, an agent
    stepped in, or self-served (see docs/bot.md)."""

    conversations: int
    handed_off: int
    agent_joined: int

    @property
    def self_served(self) -> int:
        return self.conversations - self.handed_off - self.agent_joined

    @property
    def self_service_rate(self) -> float | None:
        return self.self_served / self.conversations if self.conversations else None

    @property
    def handoff_rate(self) -> float | None:
        return self.handed_off / self.conversations if self.conversations else None


@dataclass
class Counts(_Outcomes):
    """One row of the per-store table (or the total)."""

    store_id: int | None
    store_name: str
    conversations: int = 0
    handed_off: int = 0
    agent_joined: int = 0
    turns: int = 0
    understood: int = 0
    confidence_sum: float = 0.0
    helpful: int = 0
    unhelpful: int = 0

    @property
    def avg_confidence(self) -> float | None:
        return self.confidence_sum / self.understood if self.understood else None

    def add(self, other: Counts) -> None:
        for name in (
            "conversations", "handed_off", "agent_joined", "turns", "understood",
            "confidence_sum", "helpful", "unhelpful",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Day(_Outcomes):
    day: date
    conversations: int = 0
    handed_off: int = 0
    agent_joined: int = 0
    turns: int = 0
    answered: int = 0
    unanswered: int = 0


@dataclass(frozen=True)
class TopQuestion:
    faq_id: int
    question: str
    count: int


@dataclass(frozen=True)
class Unanswered:
    normalized: str
    example: str
    count: int
    last_at: datetime


@dataclass
class BotReport:
    range: ReportRange
    store_id: int | None
    stores: list[Counts]
    total: Counts
    daily: list[Day]
    outcomes: list[tuple[str, int]]
    handoff_reasons: list[tuple[str, int]]
    top_questions: list[TopQuestion] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)


def _day_index(column: Any, rng: ReportRange) -> Any:
    """0 for the first local day of the range, 1 for the next … (rows are already in range)."""
    boundaries = rng.midnights()[1:]
    return case(*[(column < b, literal(i)) for i, b in enumerate(boundaries)], else_=literal(-1))


def _first_turns(rng: ReportRange, store_id: int | None) -> Any:
    """One row per bot conversation first answered in the range: (cid, store_id, first_at)."""
    midnights = rng.midnights()
    stmt = select(
        BotTurn.conversation_id.label("cid"),
        func.min(BotTurn.store_id).label("store_id"),
        func.min(BotTurn.created_at).label("first_at"),
    ).group_by(BotTurn.conversation_id)
    if store_id is not None:
        stmt = stmt.where(BotTurn.store_id == store_id)
    first_at = func.min(BotTurn.created_at)
    return stmt.having(and_(first_at >= midnights[0], first_at < midnights[-1])).subquery()


def _conversation_facts(rng: ReportRange, store_id: int | None) -> Any:
    first = _first_turns(rng, store_id)
    handed = BotSession.handed_off_at.is_not(None)
    agent_replied = exists().where(
        Message.conversation_id == first.c.cid,
        Message.sender_kind == "agent",
        Message.audience == "public",
    )
    return (
        select(
            first.c.cid,
            first.c.store_id,
            first.c.first_at,
            case((handed, 1), else_=0).label("handed"),
            case((and_(~handed, agent_replied), 1), else_=0).label("joined"),
            BotSession.handoff_reason.label("reason"),
        )
        .select_from(first)
        .outerjoin(BotSession, BotSession.conversation_id == first.c.cid)
        # An outer join with no session row leaves handed_off_at NULL: not handed over.
    ).subquery()


def _turns_in_range(rng: ReportRange, store_id: int | None) -> list[Any]:
    midnights = rng.midnights()
    where = [BotTurn.created_at >= midnights[0], BotTurn.created_at < midnights[-1]]
    if store_id is not None:
        where.append(BotTurn.store_id == store_id)
    return where


async def bot_report(
    session: AsyncSession, rng: ReportRange, store_id: int | None = None
) -> BotReport:
    names = dict((await session.execute(select(Store.id, Store.name))).all())
    facts = _conversation_facts(rng, store_id)
    per_store: dict[int, Counts] = {}

    def row_for(sid: int) -> Counts:
        return per_store.setdefault(sid, Counts(sid, names.get(sid, f"#{sid}")))

    conv_rows = await session.execute(
        select(
            facts.c.store_id, func.count(), func.sum(facts.c.handed), func.sum(facts.c.joined)
        ).group_by(facts.c.store_id)
    )
    for sid, n, handed, joined in conv_rows:
        row = row_for(sid)
        row.conversations, row.handed_off, row.agent_joined = n, int(handed or 0), int(joined or 0)

    in_range = _turns_in_range(rng, store_id)
    understood = BotTurn.label != UNDERSTOOD_EXCLUDES
    turn_rows = await session.execute(
        select(
            BotTurn.store_id,
            func.count(),
            func.sum(case((understood, 1), else_=0)),
            func.sum(case((understood, BotTurn.confidence), else_=0.0)),
            func.sum(case((BotTurn.rating > 0, 1), else_=0)),
            func.sum(case((BotTurn.rating < 0, 1), else_=0)),
        )
        .where(*in_range)
        .group_by(BotTurn.store_id)
    )
    for sid, n, n_understood, conf_sum, good, bad in turn_rows:
        row = row_for(sid)
        row.turns, row.understood = n, int(n_understood or 0)
        row.confidence_sum = float(conf_sum or 0.0)
        row.helpful, row.unhelpful = int(good or 0), int(bad or 0)

    stores = sorted(per_store.values(), key=lambda c: (-c.conversations, c.store_name))
    total = Counts(store_id, names.get(store_id, "") if store_id else "")
    for row in stores:
        total.add(row)
    return BotReport(
        range=rng,
        store_id=store_id,
        stores=stores,
        total=total,
        daily=await _daily(session, rng, store_id, facts),
        outcomes=await _outcomes(session, in_range),
        handoff_reasons=await _handoff_reasons(session, facts),
        top_questions=await _top_questions(session, in_range),
        unanswered=await _unanswered(session, in_range),
    )


async def _daily(
    session: AsyncSession, rng: ReportRange, store_id: int | None, facts: Any
) -> list[Day]:
    days = [Day(d) for d in rng.days]
    day = _day_index(facts.c.first_at, rng).label("day")
    rows = await session.execute(
        select(day, func.count(), func.sum(facts.c.handed), func.sum(facts.c.joined)).group_by(day)
    )
    for i, n, handed, joined in rows:
        if 0 <= i < len(days):
            days[i].conversations, days[i].handed_off = n, int(handed or 0)
            days[i].agent_joined = int(joined or 0)
    turn_day = _day_index(BotTurn.created_at, rng).label("day")
    rows = await session.execute(
        select(
            turn_day,
            func.count(),
            func.sum(case((BotTurn.outcome == "answered", 1), else_=0)),
            func.sum(case((BotTurn.outcome == "none", 1), else_=0)),
        )
        .where(*_turns_in_range(rng, store_id))
        .group_by(turn_day)
    )
    for i, n, answered, unanswered in rows:
        if 0 <= i < len(days):
            days[i].turns, days[i].answered = n, int(answered or 0)
            days[i].unanswered = int(unanswered or 0)
    return days


async def _outcomes(session: AsyncSession, in_range: list[Any]) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(BotTurn.outcome, func.count())
        .where(*in_range)
        .group_by(BotTurn.outcome)
        .order_by(func.count().desc(), BotTurn.outcome)
    )
    return [(outcome, n) for outcome, n in rows]


async def _handoff_reasons(session: AsyncSession, facts: Any) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(facts.c.reason, func.count())
        .where(facts.c.handed == 1)
        .group_by(facts.c.reason)
        .order_by(func.count().desc(), facts.c.reason)
    )
    return [(reason or "", n) for reason, n in rows]


async def _top_questions(session: AsyncSession, in_range: list[Any]) -> list[TopQuestion]:
    n = func.count().label("n")
    rows = await session.execute(
        select(Faq.id, Faq.question, n)
        .select_from(BotTurn)
        .join(Faq, Faq.id == BotTurn.faq_id)
        .where(*in_range, BotTurn.outcome == "answered")
        .group_by(Faq.id, Faq.question)
        .order_by(n.desc(), Faq.id)
        .limit(TOP_N)
    )
    return [TopQuestion(fid, question, count) for fid, question, count in rows]


async def _unanswered(session: AsyncSession, in_range: list[Any]) -> list[Unanswered]:
    n = func.count().label("n")
    last = func.max(BotTurn.created_at).label("last_at")
    rows = await session.execute(
        select(BotTurn.normalized, func.min(BotTurn.text), n, last)
        .where(*in_range, BotTurn.outcome == "none")
        .group_by(BotTurn.normalized)
        .order_by(n.desc(), last.desc())
        .limit(TOP_N)
    )
    out = []
    for normalized, example, count, last_at in rows:
        out.append(Unanswered(normalized, example, count, last_at))
    return out


def outcome_label(outcome: str) -> str:
    labels = {
        "answered": _("Answered"),
        "suggested": _("Offered similar questions"),
        "none": _("Not understood"),
        "action": _("Order action"),
        "asked": _("Asked a follow-up question"),
        "handoff": _("Handed over"),
        "message_taken": _("Took a message"),
    }
    return labels.get(outcome, outcome)


def reason_label(reason: str) -> str:
    labels = {
        "requested": _("Customer asked for a person"),
        "complaint": _("Complaint or strong displeasure"),
        "negative_emotion": _("Negative mood"),
        "low_confidence": _("Bot did not understand, several times"),
        "keyword": _("Shop's handover keyword"),
        "vip": _("VIP customer"),
        "identify_failed": _("Order identity check failed"),
        "aftersales_eligible": _("After-sales request for an agent to handle"),
        "aftersales_review": _("After-sales request needs review"),
        "": _("Unknown"),
    }
    return labels.get(reason, reason)


def daily_csv(report: BotReport) -> str:
    """The daily table as CSV (UTF-8 with BOM so Excel opens the Chinese headers)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Date"), _("Bot conversations"), _("Self-served"), _("Handed over"),
            _("Agent stepped in"), _("Self-service rate"), _("Handoff rate"),
            _("Customer messages"), _("Answered"), _("Not understood"),
        ]
    )  # fmt: skip

    def pct(value: float | None) -> str:
        return "" if value is None else f"{value * 100:.1f}%"

    for d in report.daily:
        writer.writerow(
            [
                d.day.isoformat(), d.conversations, d.self_served, d.handed_off,
                d.agent_joined, pct(d.self_service_rate), pct(d.handoff_rate),
                d.turns, d.answered, d.unanswered,
            ]
        )  # fmt: skip
    return out.getvalue()


def chart_data(report: BotReport) -> dict[str, Any]:
    """What the page's daily chart draws."""
    return {
        "days": [d.day.strftime("%m-%d") for d in report.daily],
        "self_served": [d.self_served for d in report.daily],
        "handed_off": [d.handed_off for d in report.daily],
        "agent_joined": [d.agent_joined for d in report.daily],
        "rate": [
            None if d.self_service_rate is None else round(d.self_service_rate * 100, 1)
            for d in report.daily
        ],
        "labels": {
            "self_served": _("Self-served"),
            "handed_off": _("Handed over"),
            "agent_joined": _("Agent stepped in"),
            "rate": _("Self-service rate"),
        },
    }
