"""Bot reports: every figure checked exactly against hand-seeded bot turns, with local days in
the shop's time zone (Asia/Shanghai, UTC+8) — a turn at 07:00 local is the previous UTC day."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from kefu.bot import reports
from kefu.bot.models import BotSession, BotTurn
from kefu.conversations.models import Conversation, Message
from kefu.core.db import Database
from kefu.core.errors import Invalid
from kefu.store.models import Store
from tests.fixtures.factories import LoginAs

MakeFaq = Callable[..., Awaitable[int]]
SHANGHAI = timedelta(hours=8)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time on 2026-11-`day` in Shanghai, as the aware UTC datetime stored."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - SHANGHAI


@dataclass
class T:
    """One bot turn to seed."""

    at: datetime
    outcome: str
    label: str = "none"
    confidence: float = 0.0
    faq_id: int | None = None
    text: str = "问题"
    normalized: str | None = None
    rating: int | None = None
    reason: str = ""


async def seed_chat(
    db: Database,
    store: Store,
    turns: list[T],
    *,
    handed: str | None = None,
    agent_replied: bool = False,
) -> int:
    async with db.sessionmaker() as s:
        conversation = Conversation(store_id=store.id, visitor_hash="v" * 64)
        s.add(conversation)
        await s.flush()
        for n, t in enumerate(turns):
            message = Message(
                conversation_id=conversation.id,
                sender_kind="customer",
                body=t.text,
                client_msg_id=f"c{n}",
                created_at=t.at,
            )
            s.add(message)
            await s.flush()
            s.add(
                BotTurn(
                    conversation_id=conversation.id,
                    store_id=store.id,
                    message_id=message.id,
                    text=t.text,
                    normalized=t.normalized or t.text,
                    label=t.label,
                    confidence=t.confidence,
                    outcome=t.outcome,
                    faq_id=t.faq_id,
                    rating=t.rating,
                    handoff_reason=t.reason,
                    created_at=t.at,
                )
            )
        s.add(
            BotSession(
                conversation_id=conversation.id,
                store_id=store.id,
                handed_off_at=turns[-1].at if handed else None,
                handoff_reason=handed or "",
            )
        )
        if agent_replied:
            s.add(
                Message(
                    conversation_id=conversation.id,
                    sender_kind="agent",
                    body="您好，我来帮您看看",
                    created_at=turns[-1].at + timedelta(minutes=1),
                )
            )
        await s.commit()
        return conversation.id


@pytest.fixture
async def seeded(make_store: Any, make_faq: MakeFaq, db: Database) -> dict[str, Any]:
    a = await make_store(name="优衣小铺")
    b = await make_store(name="鞋履专营店")
    fahuo = await make_faq("多久发货", "付款后 48 小时内发货。")
    fapiao = await make_faq("支持开发票吗", "支持开具电子发票。")
    points = "积分怎么兑换话费"
    # 1. Store A, 11-10 09:00: answered three times, rated helpful once → self-served.
    await seed_chat(db, a, [
        T(local(10, 9, 0), "answered", f"faq:{fahuo}", 0.9, fahuo, rating=1),
        T(local(10, 9, 1), "answered", f"faq:{fahuo}", 0.8, fahuo),
        T(local(10, 9, 2), "answered", f"faq:{fahuo}", 0.9, fahuo),
    ])  # fmt: skip
    # 2. Store A, 11-11 07:00 local (11-10 23:00 UTC): not understood twice → handed over.
    await seed_chat(db, a, [
        T(local(11, 7, 0), "none", confidence=0.9, text="积分怎么兑换话费呀", normalized=points),
        T(local(11, 7, 5), "handoff", confidence=0.95, reason="low_confidence"),
    ], handed="low_confidence")  # fmt: skip
    # 3. Store A, 11-11 10:00: suggestions rated unhelpful, then an agent replied.
    await seed_chat(db, a, [
        T(local(11, 10), "suggested", f"faq:{fapiao}", 0.45, rating=-1),
    ], agent_replied=True)  # fmt: skip
    # 4. Store B, 11-12 12:00: an answer, the same unanswered question, then 转人工.
    await seed_chat(db, b, [
        T(local(12, 12, 0), "answered", f"faq:{fapiao}", 0.7, fapiao),
        T(local(12, 12, 1), "none", confidence=0.8, text=points, normalized=points),
        T(local(12, 12, 2), "handoff", "intent:human", 0.9, reason="requested"),
    ], handed="requested")  # fmt: skip
    # 5. Store A, first answered 11-09 23:59 local (before the range): its conversation is not
    #    counted, but its turn inside the range is.
    await seed_chat(db, a, [
        T(local(9, 23, 59), "answered", f"faq:{fapiao}", 0.6, fapiao),
        T(local(10, 8, 0), "answered", f"faq:{fapiao}", 0.65, fapiao),
    ])  # fmt: skip
    # 6. Store A, 11-13 00:00 local: the day after the range.
    await seed_chat(db, a, [T(local(13, 0, 0), "answered", f"faq:{fahuo}", 0.9, fahuo)])
    return {"a": a, "b": b, "fahuo": fahuo, "fapiao": fapiao}


def nov(start: int, end: int) -> reports.ReportRange:
    return reports.report_range(f"2026-11-{start:02d}", f"2026-11-{end:02d}", "Asia/Shanghai")


async def test_report_figures_over_all_stores(db: Database, seeded: dict[str, Any]) -> None:
    async with db.sessionmaker() as s:
        report = await reports.bot_report(s, nov(10, 12))

    t = report.total
    assert (t.conversations, t.handed_off, t.agent_joined, t.self_served) == (4, 2, 1, 1)
    assert t.self_service_rate == 0.25 and t.handoff_rate == 0.5
    assert t.turns == 10
    # Understood turns only (label not none): 0.9 0.8 0.9 | 0.45 | 0.7 0.9 | 0.65.
    assert t.avg_confidence == pytest.approx(5.3 / 7)
    assert (t.helpful, t.unhelpful) == (1, 1)

    by_store = {row.store_name: row for row in report.stores}
    a, b = by_store["优衣小铺"], by_store["鞋履专营店"]
    assert (a.conversations, a.handed_off, a.agent_joined, a.turns) == (3, 1, 1, 7)
    assert (b.conversations, b.handed_off, b.agent_joined, b.turns) == (1, 1, 0, 3)
    assert b.handoff_rate == 1.0 and b.self_service_rate == 0.0

    assert dict(report.outcomes) == {"answered": 5, "none": 2, "handoff": 2, "suggested": 1}
    assert report.outcomes[0] == ("answered", 5)
    assert sorted(report.handoff_reasons) == [("low_confidence", 1), ("requested", 1)]
    assert [(q.faq_id, q.count) for q in report.top_questions] == [
        (seeded["fahuo"], 3),
        (seeded["fapiao"], 2),
    ]
    assert report.top_questions[0].question == "多久发货"
    assert [(u.normalized, u.count) for u in report.unanswered] == [("积分怎么兑换话费", 2)]
    assert report.unanswered[0].last_at == local(12, 12, 1)

    daily = [
        (d.day.day, d.conversations, d.self_served, d.handed_off, d.agent_joined, d.turns,
         d.answered, d.unanswered)
        for d in report.daily
    ]  # fmt: skip
    assert daily == [
        (10, 1, 1, 0, 0, 4, 4, 0),
        (11, 2, 0, 1, 1, 3, 0, 1),
        (12, 1, 0, 1, 0, 3, 1, 1),
    ]


async def test_one_store_and_one_day(db: Database, seeded: dict[str, Any]) -> None:
    async with db.sessionmaker() as s:
        only_a = await reports.bot_report(s, nov(10, 12), seeded["a"].id)
        day_11 = await reports.bot_report(s, nov(11, 11))
    assert [r.store_name for r in only_a.stores] == ["优衣小铺"]
    assert (only_a.total.conversations, only_a.total.turns) == (3, 7)
    assert [d.conversations for d in only_a.daily] == [1, 2, 0]
    assert only_a.handoff_reasons == [("low_confidence", 1)]
    assert [u.count for u in only_a.unanswered] == [1]
    # 07:00 on the 11th in Shanghai is still the 10th in UTC; it counts on the 11th.
    assert (day_11.total.conversations, day_11.total.turns) == (2, 3)


def test_range_defaults_to_the_last_seven_days_and_rejects_bad_input() -> None:
    rng = reports.report_range(None, None, "Asia/Shanghai", today=date(2026, 11, 12))
    assert (rng.start, rng.end) == (date(2026, 11, 6), date(2026, 11, 12))
    assert rng.midnights()[0] == datetime(2026, 11, 5, 16, tzinfo=UTC)
    with pytest.raises(Invalid) as backwards:
        reports.report_range("2026-11-12", "2026-11-10", "Asia/Shanghai")
    assert backwards.value.zh == "结束日期不能早于开始日期"
    with pytest.raises(Invalid):
        reports.report_range("2026-01-01", "2026-12-31", "Asia/Shanghai")
    with pytest.raises(Invalid) as garbled:
        reports.report_range("11/10/2026", None, "Asia/Shanghai")
    assert "YYYY-MM-DD" in garbled.value.en


async def test_report_page_csv_and_links(
    seeded: dict[str, Any], login_as: LoginAs, client: httpx.AsyncClient
) -> None:
    boss = await login_as("supervisor")
    page = await boss.get("/bot/reports", params={"start": "2026-11-10", "end": "2026-11-12"})
    assert page.status_code == 200, page.text
    assert 'data-testid="stat-conversations">4<' in page.text
    assert 'data-testid="stat-self-service">25.0%<' in page.text
    assert "积分怎么兑换话费" in page.text and "多久发货" in page.text

    exported = await boss.get(
        "/bot/reports/daily.csv",
        params={"start": "2026-11-10", "end": "2026-11-12", "store": seeded["a"].id},
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == 4
    assert rows[1] == ["2026-11-10", "1", "1", "0", "0", "100.0%", "0.0%", "4", "4", "0"]
    assert rows[2] == ["2026-11-11", "2", "0", "1", "1", "0.0%", "50.0%", "3", "0", "1"]
    assert rows[3][:2] == ["2026-11-12", "0"] and rows[3][5] == ""

    bad = await boss.get("/bot/reports", params={"start": "2026-11-12", "end": "2026-11-01"})
    assert bad.status_code == 422 and "结束日期不能早于开始日期" in bad.text

    assert 'href="/bot/reports"' in (await boss.get("/reports")).text
    assert 'href="/bot/reports"' in (await boss.get("/settings/bot")).text

    agent = await login_as("agent")  # agents do not read reports
    assert (await agent.get("/bot/reports")).status_code == 403
    assert (await agent.get("/bot/reports/daily.csv")).status_code == 403
    assert (await client.get("/bot/reports")).status_code in (303, 401)
