"""Ticket list, Chinese search and SLA sweep with 1,000,000 tickets (PostgreSQL) or 100,000
(SQLite).

Data: tickets spread over the last ~15 months, 8% still open (the newest ones, as in a real
shop), every status, priority and type, 50 agents, one in ten tagged 加急. Subjects and
descriptions come from 240 realistic Chinese texts; each is segmented once with jieba (the
same `index_terms` the app uses) and the search table is filled from those — on PostgreSQL
with `to_tsvector('simple', …)` and a GIN index, on SQLite into FTS5. PostgreSQL rows are built
with generate_series in SQL; SQLite rows with executemany.

Measured through the app's own service functions on an async session:
- list: `service.list_tickets` with the filters the list page offers (default open view,
  mine, unassigned, a status, priority, type, tag, overdue sorted by due, priority sort,
  page 5), 25 rows a page;
- search: `service.list_tickets(q=...)` for one- and two-word Chinese queries, open and all
  statuses;
- sweep: `sla.sweep` over the whole table with 1,000 targets newly due (the rest already
  acted upon or not yet due), escalation included (audit, timeline entry, notifications),
  committed; then a second sweep that finds nothing.

    .venv/bin/python benchmarks/tickets.py                # SQLite, 100,000 tickets
    .venv/bin/python benchmarks/tickets.py --postgres     # throwaway PostgreSQL, 1,000,000
    .venv/bin/python benchmarks/tickets.py --postgres --tickets 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KEFU_SECRET_KEY", "benchmark-secret-key")
os.environ.setdefault("KEFU_ENVIRONMENT", "test")

import kefu.models  # noqa: F401
from kefu.core.db import Base, Database
from kefu.tickets import service, sla
from kefu.tickets.schemas import TicketFilters
from kefu.tickets.search import index_terms

logging.disable(logging.WARNING)

PRODUCTS = ["玻璃杯", "羽绒服", "连衣裙", "蓝牙耳机", "保温杯", "运动鞋", "面膜", "电饭煲",
            "床单", "背包", "手机壳", "台灯"]  # fmt: skip
PROBLEMS = [
    ("收到的{p}破损了，外包装有压痕", "客户要求补发，照片已上传"),
    ("{p}物流三天没有更新", "顺丰单号查不到中转记录，客户很着急"),
    ("{p}尺码偏小想换大一码", "七天无理由退换货，吊牌完好"),
    ("申请退款，{p}不想要了", "还没发货，客户要求取消订单并退款"),
    ("{p}开发票需要公司抬头", "增值税普通发票，税号客户稍后提供"),
    ("{p}用了两天就坏了要求维修", "质量问题，需要寄回检测"),
    ("{p}发错颜色了", "下单黑色收到白色，要求换货并补偿运费"),
    ("投诉客服态度差，{p}问题一直没人处理", "客户说再不处理就去12315投诉"),
    ("咨询{p}能否机洗", "售前咨询材质和洗涤方式"),
    ("{p}少发了一件", "订单两件只收到一件，仓库核实中"),
    ("{p}价格降了申请价保", "下单后三天降价，要求退差价"),
    ("{p}快递被别人签收了", "物流显示已签收但客户没收到"),
    ("{p}有异味", "客户担心质量问题，要求退货退款"),
    ("修改{p}的收货地址", "地址填错了，还没发货"),
    ("{p}赠品没有收到", "活动赠品漏发，需要补寄"),
    ("{p}颜色和描述不符", "色差严重，客户要求退货"),
    ("{p}优惠券没有生效", "满减没有计算，要求退差价"),
    ("催促{p}尽快发货", "付款五天了还没有发货"),
    ("{p}漏液", "收到时外箱已经湿了"),
    ("{p}的安装说明看不懂", "需要技术支持远程指导"),
]
TEXTS = [(s.format(p=p), d) for p in PRODUCTS for s, d in PROBLEMS]  # 240 texts
STATUSES_OPEN = ["new", "open", "pending_customer", "pending_internal"]
STATUSES_DONE = ["resolved", "closed", "closed", "closed"]
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]
TYPES = ["inquiry", "complaint", "return_exchange", "refund", "logistics", "repair", "invoice",
         "other"]  # fmt: skip
AGENTS = 50
NEWLY_DUE = 1000
SEARCHES = ["破损", "顺丰", "发票 抬头", "退款", "羽绒服 机洗", "12315", "价保", "漏液",
            "玻璃杯 破损", "赠品", "鳄鱼皮"]  # fmt: skip


def _search_texts() -> list[str]:
    return [" ".join(index_terms(f"{s} {d}")) for s, d in TEXTS]


async def _schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with db.sessionmaker() as s:
        from kefu.tickets import settings as ticket_settings

        await ticket_settings.ensure_defaults(s)
        await s.commit()


def _row_values(i: int, n: int, now: datetime) -> dict[str, Any]:
    """Ticket i of n: the newest 8% are open; the rest resolved or closed."""
    created = now - timedelta(seconds=(n - i) * 40 * 1_000_000 // n)
    is_open = i > n * 0.92
    status = STATUSES_OPEN[i % 4] if is_open else STATUSES_DONE[i % 4]
    subject, description = TEXTS[i % len(TEXTS)]
    due = created + timedelta(days=2)
    values: dict[str, Any] = {
        "id": i,
        "number": f"GD{created:%Y%m%d}-{i:07d}",
        "type_code": TYPES[(i * 13) % len(TYPES)],
        "subject": subject,
        "description": description,
        "status": status,
        "priority": PRIORITIES[(i * 7) % len(PRIORITIES)],
        "tags": json.dumps(["加急"] if i % 10 == 0 else [], ensure_ascii=False),
        "assignee_id": None if i % 9 == 0 else 1 + i % AGENTS,
        "created_at": created,
        "updated_at": created,
        "sla_due_at": due if is_open else None,
        "sla_due_kind": "resolution" if is_open else None,
        "sla_warn_at": due - timedelta(hours=9) if is_open else None,
        "sla_paused_at": created + timedelta(hours=1)
        if is_open and status == "pending_customer"
        else None,
        "breach_notified_at": due if is_open and due <= now else None,
    }
    return values


async def _users(db: Database) -> None:
    async with db.engine.begin() as conn:
        from sqlalchemy import text

        for uid in range(1, AGENTS + 3):
            role = "agent" if uid <= AGENTS else "supervisor"
            await conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, role, "
                    "is_active, locale, max_concurrent_chats, failed_logins, session_version, "
                    "created_at, updated_at) VALUES (:id, :u, :d, 'x', :r, true, 'zh_CN', 5, 0, "
                    "1, :now, :now)"
                ),
                {"id": uid, "u": f"u{uid}", "d": f"客服{uid}", "r": role, "now": datetime.now(UTC)},
            )


async def build_postgres(db: Database, n: int) -> None:
    from sqlalchemy import text

    await _schema(db)
    await _users(db)
    texts = _search_texts()
    subjects = [s for s, _ in TEXTS]
    descriptions = [d for _, d in TEXTS]
    async with db.engine.begin() as conn:
        raw = await conn.get_raw_connection()
        pg: Any = raw.driver_connection
        await pg.execute("ALTER TABLE tickets SET (autovacuum_enabled = false)")
        await pg.execute(
            f"""
            INSERT INTO tickets (id, number, type_code, subject, description, status, priority,
                tags, custom_fields, source, customer_tier, assignee_id, created_at, updated_at,
                sla_due_at, sla_due_kind, sla_warn_at, sla_paused_at, breach_notified_at,
                breached, escalation_level, is_high_risk, is_repeat)
            SELECT g,
                'GD' || to_char(c, 'YYYYMMDD') || '-' || lpad(g::text, 7, '0'),
                ($1::text[])[1 + (g * 13) % 8],
                ($2::text[])[1 + g % {len(TEXTS)}],
                ($3::text[])[1 + g % {len(TEXTS)}],
                CASE WHEN o THEN ($4::text[])[1 + g % 4] ELSE ($5::text[])[1 + g % 4] END,
                ($6::text[])[1 + (g * 7) % 6],
                CASE WHEN g % 10 = 0 THEN '["加急"]'::jsonb ELSE '[]'::jsonb END,
                '{{}}'::jsonb, 'agent', 'normal',
                CASE WHEN g % 9 = 0 THEN NULL ELSE 1 + g % {AGENTS} END,
                c, c,
                CASE WHEN o THEN c + interval '2 days' END,
                CASE WHEN o THEN 'resolution' END,
                CASE WHEN o THEN c + interval '39 hours' END,
                CASE WHEN o AND g % 4 = 2 THEN c + interval '1 hour' END,
                CASE WHEN o AND c + interval '2 days' <= now() THEN c + interval '2 days' END,
                false, 0, false, false
            FROM (
                SELECT g, now() - ((({n} - g)::bigint * 40000000 / {n}) * interval '1 second') AS c,
                       g > {n} * 0.92 AS o
                FROM generate_series(1, {n}) g
            ) s
            """,
            TYPES, subjects, descriptions, STATUSES_OPEN, STATUSES_DONE, PRIORITIES,
        )  # fmt: skip
        await pg.execute(
            f"""
            INSERT INTO ticket_search (ticket_id, content, tsv)
            SELECT g, t, to_tsvector('simple', t)
            FROM (SELECT g, ($1::text[])[1 + g % {len(TEXTS)}] AS t
                  FROM generate_series(1, {n}) g) s
            """,
            texts,
        )
        await pg.execute(f"SELECT setval('tickets_id_seq', {n})")
        await _newly_due_pg(pg, n)
        await pg.execute("ALTER TABLE tickets SET (autovacuum_enabled = true)")
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def _newly_due_pg(pg: Any, n: int) -> None:
    # 1,000 open, running tickets whose target just passed and has not been acted upon.
    await pg.execute(
        """
        UPDATE tickets SET sla_due_at = now() - interval '1 minute', breach_notified_at = NULL
        WHERE id IN (SELECT id FROM tickets WHERE status IN ('new', 'open', 'pending_internal')
                     ORDER BY id DESC LIMIT $1)
        """,
        NEWLY_DUE,
    )


def build_sqlite(path: str, n: int) -> None:
    texts = _search_texts()
    now = datetime.now(UTC)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    cols = [
        *_row_values(1, n, now),
        "custom_fields", "source", "customer_tier", "breached", "escalation_level",
        "is_high_risk", "is_repeat",
    ]  # fmt: skip

    def fmt(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    rows = []
    for i in range(1, n + 1):
        v = _row_values(i, n, now)
        rows.append([fmt(x) for x in v.values()] + ["{}", "agent", "normal", 0, 0, 0, 0])
    con.executemany(
        f"INSERT INTO tickets ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
    )
    con.executemany(
        "INSERT INTO ticket_search (ticket_id, content) VALUES (?, ?)",
        ((i, texts[i % len(TEXTS)]) for i in range(1, n + 1)),
    )
    con.executemany(
        "INSERT INTO ticket_fts (rowid, content) VALUES (?, ?)",
        ((i, texts[i % len(TEXTS)]) for i in range(1, n + 1)),
    )
    due = fmt(now - timedelta(minutes=1))
    con.execute(
        "UPDATE tickets SET sla_due_at = ?, breach_notified_at = NULL WHERE id IN (SELECT id FROM "
        "tickets WHERE status IN ('new', 'open', 'pending_internal') ORDER BY id DESC LIMIT ?)",
        (due, NEWLY_DUE),
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


LIST_FILTERS: list[dict[str, Any]] = [
    {},
    {"assignee": "me"},
    {"assignee": "none"},
    {"status": "pending_customer"},
    {"priority": "urgent"},
    {"type_code": "complaint"},
    {"tag": "加急"},
    {"sla": "breached", "sort": "due"},
    {"sort": "priority"},
    {"sort": "updated"},
    {"page": 5},
    {"status": "closed", "assignee": "7"},
]


async def measure(db: Database, rounds: int) -> dict[str, Any]:
    list_ms: list[float] = []
    search_ms: list[float] = []
    slowest: dict[str, float] = {}
    rng = random.Random(7)
    async with db.sessionmaker() as s:
        for _ in range(2):  # warm caches and jieba
            for f in LIST_FILTERS[:3]:
                await service.list_tickets(s, TicketFilters(**f), user_id=3)
            await service.list_tickets(s, TicketFilters(q="破损"), user_id=3)
        for _ in range(rounds):
            for f in LIST_FILTERS:
                start = time.perf_counter()
                await service.list_tickets(s, TicketFilters(**f), user_id=1 + rng.randrange(AGENTS))
                list_ms.append((time.perf_counter() - start) * 1000)
                key = f"list {f}"
                slowest[key] = max(slowest.get(key, 0.0), list_ms[-1])
            for q in SEARCHES:
                status = "all" if rng.random() < 0.3 else None
                start = time.perf_counter()
                await service.list_tickets(s, TicketFilters(q=q, status=status), user_id=1)
                search_ms.append((time.perf_counter() - start) * 1000)
                key = f"search {q!r} status={status or 'open'}"
                slowest[key] = max(slowest.get(key, 0.0), search_ms[-1])
        await s.rollback()
    async with db.sessionmaker() as s:
        start = time.perf_counter()
        first = await sla.sweep(s)
        await s.commit()
        sweep_s = time.perf_counter() - start
        start = time.perf_counter()
        second = await sla.sweep(s)
        await s.commit()
        idle_s = time.perf_counter() - start
    worst = sorted(slowest.items(), key=lambda kv: -kv[1])[:6]
    return {
        "slowest": "; ".join(f"{k} {v:.0f} ms" for k, v in worst),
        "list_p95_ms": p95(list_ms),
        "list_p50_ms": statistics.median(list_ms),
        "list_max_ms": max(list_ms),
        "search_p95_ms": p95(search_ms),
        "search_p50_ms": statistics.median(search_ms),
        "search_max_ms": max(search_ms),
        "sweep_s": sweep_s,
        "swept": first.breached,
        "warned": first.warned,
        "idle_sweep_s": idle_s,
        "second_sweep_breached": second.breached,
        "list_n": len(list_ms),
        "search_n": len(search_ms),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if args.postgres:
        from tests.fixtures.servers import postgres_server

        n = args.tickets or 1_000_000
        with postgres_server() as url:
            db = Database(url)
            t0 = time.perf_counter()
            await build_postgres(db, n)
            print(f"built {n:,} tickets in {time.perf_counter() - t0:.0f}s (PostgreSQL)")
            result = await measure(db, args.rounds)
            await db.dispose()
    else:
        n = args.tickets or 100_000
        path = Path(tempfile.mkdtemp(prefix="kefu-tickets-")) / "bench.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        await _schema(db)
        await _users(db)
        await db.dispose()
        t0 = time.perf_counter()
        build_sqlite(str(path), n)
        print(f"built {n:,} tickets in {time.perf_counter() - t0:.0f}s (SQLite {path})")
        db = Database(f"sqlite+aiosqlite:///{path}")
        result = await measure(db, args.rounds)
        await db.dispose()
    for key, value in result.items():
        print(f"  {key}: {value:.2f}" if isinstance(value, float) else f"  {key}: {value}")
    print(
        f"tickets: list_p95_ms={result['list_p95_ms']:.1f} "
        f"search_p95_ms={result['search_p95_ms']:.1f} sweep_s={result['sweep_s']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
