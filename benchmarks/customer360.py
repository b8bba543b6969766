"""Customer 360 server time with 1,000,000 orders in the database.

Builds a SQLite database (or fills an empty PostgreSQL one) with ~3,000 customers and
1,000,000 orders, skewed like a real shop: most customers have a few hundred orders, a few
"whales" have tens of thousands. Every order has one or two items; one in ten has a shipment
with four logistics events. Rows go in with plain executemany (COPY on PostgreSQL), not the ORM.

Then it runs the real app in-process (httpx ASGITransport), signs an agent in through the
login form and requests `/customers/{id}` for random customers, timing each request from
the moment it enters the app until the body is complete. Prints p50/p95/max and, last line,
`customer360: p95_ms=...`.

    .venv/bin/python benchmarks/customer360.py                 # SQLite, builds /tmp/kefu-c360.db
    .venv/bin/python benchmarks/customer360.py --reuse         # keep an already built file
    .venv/bin/python benchmarks/customer360.py --postgres      # throwaway PostgreSQL server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KEFU_SECRET_KEY", "benchmark-secret-key")
os.environ.setdefault("KEFU_ENVIRONMENT", "test")

import httpx

import kefu.models  # noqa: F401
from kefu.accounts.service import create_user
from kefu.app import create_app
from kefu.core.audit import Actor
from kefu.core.config import get_settings
from kefu.core.db import Base, Database

PASSWORD = "bench-password-42"
STATUSES = [
    ("TRADE_FINISHED", 70),
    ("WAIT_BUYER_CONFIRM_GOODS", 8),
    ("WAIT_SELLER_SEND_GOODS", 6),
    ("TRADE_BUYER_SIGNED", 5),
    ("TRADE_CLOSED", 6),
    ("TRADE_CLOSED_BY_TAOBAO", 3),
    ("WAIT_BUYER_PAY", 2),
]
TITLES = [
    "羊毛大衣",
    "纯棉T恤",
    "牛仔裤",
    "连衣裙",
    "羽绒服",
    "针织衫",
    "运动鞋",
    "保温杯",
    "蚕丝被",
]
CITIES = [
    ("浙江省", "杭州市", "西湖区"),
    ("广东省", "深圳市", "南山区"),
    ("北京", "北京市", "海淀区"),
    ("上海", "上海市", "浦东新区"),
    ("四川省", "成都市", "武侯区"),
]
_TS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+")
EPOCH = datetime(2021, 1, 1, tzinfo=UTC)
SPAN_S = int((datetime(2026, 11, 20, tzinfo=UTC) - EPOCH).total_seconds())


def ts(value: datetime) -> str:
    """The text SQLAlchemy stores for a UTC datetime on SQLite."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def orders_per_customer(customers: int, orders: int, rng: random.Random) -> list[int]:
    """1% whales share 30% of the orders; the rest spread evenly with some noise."""
    whales = max(1, customers // 100)
    whale_total = orders * 3 // 10
    counts = [whale_total // whales] * whales
    rest = orders - sum(counts)
    weights = [rng.uniform(0.2, 1.8) for _ in range(customers - whales)]
    scale = rest / sum(weights)
    counts += [int(w * scale) for w in weights]
    counts[-1] += orders - sum(counts)
    rng.shuffle(counts)
    return counts


class Rows:
    """Generates every table's rows as tuples in column order, in chunks."""

    def __init__(self, customers: int, orders: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.customers = customers
        self.orders = orders
        self.counts = orders_per_customer(customers, orders, self.rng)
        self.now = ts(datetime(2026, 11, 20, tzinfo=UTC))

    store_cols = (
        "id", "code", "name", "platform", "timezone", "webhook_secret", "return_address",
        "service_phone", "settings", "is_active", "created_at", "updated_at",
    )  # fmt: skip

    def stores(self) -> list[tuple[Any, ...]]:
        return [
            (1, "bench", "基准测试旗舰店", "tmall", "Asia/Shanghai", "x" * 32, "", "", "{}", 1,
             self.now, self.now)
        ]  # fmt: skip

    customer_cols = (
        "id", "store_id", "external_id", "name", "nickname", "phone", "phone_tail", "email",
        "gender", "city", "tier", "tags", "note", "marketing_opt_in", "first_seen_at",
        "source_updated_at", "created_at", "updated_at",
    )  # fmt: skip

    def customer_rows(self) -> list[tuple[Any, ...]]:
        out = []
        for cid in range(1, self.customers + 1):
            phone = f"13{self.rng.randrange(10**9):09d}"
            tier = "svip" if cid % 50 == 0 else "vip" if cid % 7 == 0 else "normal"
            tags = json.dumps(["回头客"] if cid % 3 == 0 else [])
            out.append(
                (cid, 1, f"C{cid:07d}", f"顾客{cid}", f"buyer_{cid}", phone, phone[-4:],
                 f"b{cid}@example.com", None, "杭州市", tier, tags, "", 0,
                 ts(EPOCH), self.now, self.now, self.now)
            )  # fmt: skip
        return out

    order_cols = (
        "id", "store_id", "customer_id", "order_no", "status", "currency", "total_amount",
        "shipping_fee", "discount_amount", "paid_amount", "refunded_amount", "receiver_name",
        "receiver_phone", "province", "city", "district", "address_detail", "buyer_message",
        "seller_memo", "placed_at", "paid_at", "shipped_at", "signed_at", "finished_at",
        "closed_at", "external_id", "source_updated_at", "created_at", "updated_at",
    )  # fmt: skip
    item_cols = (
        "id", "order_id", "external_id", "product_id", "sku_id", "title", "sku_desc",
        "quantity", "unit_price", "paid_amount", "refund_status", "return_exclusion_confirmed",
    )  # fmt: skip
    shipment_cols = (
        "id", "order_id", "carrier", "tracking_no", "status", "shipped_at", "delivered_at",
        "is_return", "created_at", "updated_at",
    )  # fmt: skip
    event_cols = ("id", "shipment_id", "occurred_at", "location", "description", "status")

    def order_chunks(self, chunk: int = 50_000) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
        rng = self.rng
        statuses = [s for s, w in STATUSES for _ in range(w)]
        oid = item_id = ship_id = event_id = 0
        batch: dict[str, list[tuple[Any, ...]]] = {"o": [], "i": [], "s": [], "e": []}
        for cid, count in enumerate(self.counts, 1):
            for _ in range(count):
                oid += 1
                placed = EPOCH + timedelta(seconds=rng.randrange(SPAN_S))
                status = rng.choice(statuses)
                price = rng.randrange(29, 999)
                lines = 1 if rng.random() < 0.7 else 2
                total = price * lines
                paid = 0 if status in ("WAIT_BUYER_PAY", "TRADE_CLOSED_BY_TAOBAO") else total
                refunded = paid if status == "TRADE_CLOSED" else 0
                prov, city, dist = CITIES[oid % len(CITIES)]
                p, s = ts(placed), ts(placed + timedelta(hours=20))
                batch["o"].append(
                    (oid, 1, cid, f"T{oid:012d}", status, "CNY", total, 0, 0, paid, refunded,
                     f"顾客{cid}", f"13{oid % 10**9:09d}", prov, city, dist, "文三路 100 号",
                     "", "", p, p if paid else None, s, None, None, None, f"T{oid:012d}", p, p,
                     p)
                )  # fmt: skip
                for line in range(lines):
                    item_id += 1
                    batch["i"].append(
                        (item_id, oid, str(line), None, None, TITLES[(oid + line) % len(TITLES)],
                         "默认", 1, price, price, None, 0)
                    )  # fmt: skip
                if oid % 10 == 0:
                    ship_id += 1
                    batch["s"].append(
                        (ship_id, oid, "顺丰速运", f"SF{oid:012d}", "delivered", s,
                         ts(placed + timedelta(days=3)), 0, s, s)
                    )  # fmt: skip
                    for step, text in enumerate(("已揽收", "运输中", "派送中", "已签收")):
                        event_id += 1
                        batch["e"].append(
                            (event_id, ship_id, ts(placed + timedelta(hours=20 + 16 * step)),
                             city, f"快件{text}", "delivered" if step == 3 else "in_transit")
                        )  # fmt: skip
                if len(batch["o"]) >= chunk:
                    yield batch
                    batch = {"o": [], "i": [], "s": [], "e": []}
        yield batch


def _insert_sql(table: str, cols: Sequence[str], style: str = "?") -> str:
    marks = ", ".join(style for _ in cols)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"


def build_sqlite(path: Path, customers: int, orders: int) -> None:
    from sqlalchemy import create_engine

    if path.exists():
        path.unlink()
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    rows = Rows(customers, orders)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.executemany(_insert_sql("stores", rows.store_cols), rows.stores())
        conn.executemany(_insert_sql("customers", rows.customer_cols), rows.customer_rows())
    done = 0
    for batch in rows.order_chunks():
        with conn:
            conn.executemany(_insert_sql("orders", rows.order_cols), batch["o"])
            conn.executemany(_insert_sql("order_items", rows.item_cols), batch["i"])
            conn.executemany(_insert_sql("shipments", rows.shipment_cols), batch["s"])
            conn.executemany(_insert_sql("logistics_events", rows.event_cols), batch["e"])
        done += len(batch["o"])
        print(f"  {done:,} orders", end="\r", flush=True)
    conn.execute("ANALYZE")
    conn.close()
    print()


async def build_postgres(url: str, customers: int, orders: int) -> None:
    import asyncpg

    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await database.dispose()
    rows = Rows(customers, orders)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))

    def pg(values: list[tuple[Any, ...]], cols: Sequence[str]) -> list[tuple[Any, ...]]:
        """COPY needs real Python types: datetimes, Decimals, booleans, JSON text."""
        out = []
        for row in values:
            fixed = []
            for col, value in zip(cols, row, strict=True):
                if isinstance(value, str) and _TS.fullmatch(value):
                    value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
                elif col in ("is_active", "marketing_opt_in", "is_return",
                             "return_exclusion_confirmed"):  # fmt: skip
                    value = bool(value)
                elif isinstance(value, int) and col.endswith(("amount", "fee", "price")):
                    from decimal import Decimal

                    value = Decimal(value)
                fixed.append(value)
            out.append(tuple(fixed))
        return out

    try:
        await conn.copy_records_to_table(
            "stores", records=pg(rows.stores(), rows.store_cols), columns=rows.store_cols
        )
        await conn.copy_records_to_table(
            "customers",
            records=pg(rows.customer_rows(), rows.customer_cols),
            columns=rows.customer_cols,
        )
        done = 0
        for batch in rows.order_chunks():
            for table, key, cols in (
                ("orders", "o", rows.order_cols),
                ("order_items", "i", rows.item_cols),
                ("shipments", "s", rows.shipment_cols),
                ("logistics_events", "e", rows.event_cols),
            ):
                await conn.copy_records_to_table(table, records=pg(batch[key], cols), columns=cols)
            done += len(batch["o"])
            print(f"  {done:,} orders", end="\r", flush=True)
        for table in ("stores", "customers", "orders", "order_items", "shipments",
                      "logistics_events"):  # fmt: skip
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    print()


async def measure(
    url: str, customers: int, requests: int, seed: int = 11
) -> tuple[list[float], dict[int, tuple[int, float]]]:
    """Timings of `requests` random customers, and of the three customers with most orders."""
    settings = get_settings().model_copy(update={"database_url": url})
    database = Database(url)
    async with database.sessionmaker() as s:
        await create_user(
            s,
            Actor.system("benchmark"),
            username=f"bench_agent_{int(time.time())}",
            password=PASSWORD,
            display_name="基准测试客服",
            role="agent",
        )
        await s.commit()
        from sqlalchemy import select

        from kefu.accounts.models import User

        username = (await s.scalars(select(User.username).order_by(User.id.desc()))).first()
    app = create_app(settings, database=database)
    timings: list[float] = []

    @app.middleware("http")
    async def server_time(request: Any, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path.startswith("/customers/"):
            # Streamed bodies finish after call_next; collect them inside the timing.
            chunks = [chunk async for chunk in response.body_iterator]
            timings.append((time.perf_counter() - started) * 1000)
            from starlette.responses import Response

            return Response(
                b"".join(chunks),
                status_code=response.status_code,
                headers=dict(response.headers),
                media_type=response.media_type,
            )
        return response

    rng = random.Random(seed)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
            assert token, "login page has a CSRF token"
            signed = await client.post(
                "/login",
                data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
            )
            assert signed.status_code == 303, signed.text[:500]
            for _ in range(20):  # warm-up: templates compiled, pool and page cache filled
                await client.get(f"/customers/{rng.randint(1, customers)}")
            timings.clear()
            for _ in range(requests):
                response = await client.get(f"/customers/{rng.randint(1, customers)}")
                assert response.status_code == 200, response.text[:500]
                assert "****" in response.text
            measured = list(timings)
            async with database.sessionmaker() as s:
                from sqlalchemy import func, select

                from kefu.store.models import Order

                biggest = (
                    await s.execute(
                        select(Order.customer_id, func.count())
                        .group_by(Order.customer_id)
                        .order_by(func.count().desc())
                        .limit(3)
                    )
                ).all()
            whales: dict[int, tuple[int, float]] = {}
            for customer_id, count in biggest:
                if customer_id is None:
                    continue
                timings.clear()
                for _ in range(5):
                    await client.get(f"/customers/{customer_id}")
                whales[customer_id] = (count, statistics.median(timings))
    await database.dispose()
    return measured, whales


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", type=Path, default=Path("/tmp/kefu-c360.db"))
    parser.add_argument("--reuse", action="store_true", help="reuse an already built SQLite file")
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    if args.postgres:
        from tests.fixtures.servers import postgres_server

        with postgres_server() as url:
            started = time.perf_counter()
            print(f"building PostgreSQL database with {args.orders:,} orders ...")
            asyncio.run(build_postgres(url, args.customers, args.orders))
            print(f"built in {time.perf_counter() - started:.0f} s")
            timings, whales = asyncio.run(measure(url, args.customers, args.requests))
        label = "postgresql"
    else:
        if not (args.reuse and args.db.exists()):
            started = time.perf_counter()
            print(f"building {args.db} with {args.orders:,} orders ...")
            build_sqlite(args.db, args.customers, args.orders)
            print(f"built in {time.perf_counter() - started:.0f} s")
        url = f"sqlite+aiosqlite:///{args.db}"
        timings, whales = asyncio.run(measure(url, args.customers, args.requests))
        label = "sqlite"

    print(
        f"{label}: {len(timings)} requests to /customers/{{id}}, {args.orders:,} orders, "
        f"{args.customers:,} customers"
    )
    print(
        f"p50={statistics.median(timings):.1f} ms  p95={percentile(timings, 95):.1f} ms  "
        f"max={max(timings):.1f} ms"
    )
    for customer_id, (count, ms) in whales.items():
        print(f"customer {customer_id} with {count:,} orders: median {ms:.1f} ms")
    print(f"customer360: p95_ms={percentile(timings, 95):.1f}")


if __name__ == "__main__":
    main()
