"""Batch order import throughput: 100,000 orders with 2–3 lines each, in batches of 1,000.

Calls `kefu.store.service.import_batch` — the function behind
`POST /api/v1/stores/{store}/orders:batch`, validation included — with one session and one
commit per batch, as one API request would. Runs on a fresh SQLite file and on PostgreSQL
(`--postgres-url`, or a throwaway server started from the installed Debian binaries).

    .venv/bin/python benchmarks/import_orders.py [--orders 100000] [--postgres-url URL]

The last line is machine-readable:
    import_orders: sqlite_orders_per_s=… postgres_orders_per_s=…
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kefu.models  # noqa: E402,F401 - every table
from kefu.core.audit import Actor  # noqa: E402
from kefu.core.db import Base, Database  # noqa: E402
from kefu.store.models import Store  # noqa: E402
from kefu.store.schemas import Outcome  # noqa: E402
from kefu.store.service import import_batch  # noqa: E402

STATUSES = (
    "WAIT_BUYER_PAY",
    "WAIT_SELLER_SEND_GOODS",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
)
PROVINCES = (
    ("浙江省", "杭州市", "西湖区"),
    ("广东省", "深圳市", "南山区"),
    ("北京市", "北京市", "朝阳区"),
)


def make_products(count: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"P{p:05d}",
            "title": f"商品 {p}",
            "price": "99.00",
            "skus": [
                {"external_id": f"P{p:05d}-{v}", "price": "99.00", "stock": 100} for v in range(3)
            ],
            "updated_at": "2026-01-01T00:00:00Z",
        }
        for p in range(count)
    ]


def make_orders(count: int, seed: int = 42) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    orders = []
    for n in range(count):
        lines: list[dict[str, Any]] = []
        for i in range(rng.choice((2, 3))):
            price = rng.choice(("19.90", "59.00", "129.00", "299.00"))
            qty = rng.randint(1, 3)
            lines.append(
                {
                    "external_id": f"B{n:07d}-{i}",
                    "sku_external_id": f"P{rng.randrange(500):05d}-{rng.randrange(3)}",
                    "title": "纯棉连衣裙",
                    "sku_desc": "红色 M",
                    "quantity": qty,
                    "unit_price": price,
                    "paid_amount": f"{float(price) * qty:.2f}",
                }
            )
        total = sum(float(x["paid_amount"]) for x in lines)
        placed = start + timedelta(seconds=n * 7)
        province, city, district = PROVINCES[n % 3]
        status = STATUSES[n % len(STATUSES)]
        orders.append(
            {
                "external_id": f"B{n:07d}",
                "status": status,
                "customer_external_id": f"C{rng.randrange(20000):05d}",
                "buyer": {"name": "张三", "phone": f"138{n % 100000000:08d}"},
                "total_amount": f"{total:.2f}",
                "paid_amount": "0" if status == "WAIT_BUYER_PAY" else f"{total:.2f}",
                "receiver": {
                    "name": "张三",
                    "phone": f"138{n % 100000000:08d}",
                    "province": province,
                    "city": city,
                    "district": district,
                    "detail": "文三路 100 号",
                },
                "placed_at": placed.isoformat(),
                "items": lines,
                "updated_at": (placed + timedelta(minutes=5)).isoformat(),
            }
        )
    return orders


async def run(url: str, orders: list[dict[str, Any]], batch: int, label: str) -> float:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    actor = Actor.system("benchmark")
    async with db.sessionmaker() as s:
        store = Store(code="bench", name="基准店铺", webhook_secret="x")
        s.add(store)
        await s.flush()
        await import_batch(s, actor, store, "product", make_products(500))
        await s.commit()
    counts = dict.fromkeys(Outcome, 0)
    started = time.perf_counter()
    for offset in range(0, len(orders), batch):
        async with db.sessionmaker() as s:
            result = await import_batch(s, actor, store, "order", orders[offset : offset + batch])
            await s.commit()
        for outcome, n in result.counts.items():
            counts[outcome] += n
    elapsed = time.perf_counter() - started
    rate = len(orders) / elapsed
    assert counts[Outcome.created] == len(orders), counts
    # Re-sending the same data must be a no-op (and is also timed, for information).
    started = time.perf_counter()
    for offset in range(0, min(len(orders), 10 * batch), batch):
        async with db.sessionmaker() as s:
            again = await import_batch(s, actor, store, "order", orders[offset : offset + batch])
            await s.commit()
        assert again.counts[Outcome.unchanged] == len(orders[offset : offset + batch])
    resend = min(len(orders), 10 * batch) / (time.perf_counter() - started)
    print(
        f"{label}: {len(orders)} orders in {elapsed:.1f} s = {rate:,.0f} orders/s "
        f"(re-sending unchanged: {resend:,.0f} orders/s)",
        flush=True,
    )
    await db.dispose()
    return rate


@contextlib.contextmanager
def postgres(url: str | None, wanted: bool) -> Iterator[str | None]:
    if url or not wanted:
        yield url
        return
    try:
        from tests.fixtures.servers import postgres_server

        with postgres_server() as started:
            yield started
    except BaseException as exc:  # pytest.skip raises a BaseException subclass
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"postgresql: not run ({exc})", flush=True)
        yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    orders = make_orders(args.orders)
    lines = sum(len(o["items"]) for o in orders)
    print(f"{args.orders} orders, {lines} lines, batches of {args.batch}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        sqlite_rate = asyncio.run(
            run(f"sqlite+aiosqlite:///{tmp}/bench.db", orders, args.batch, "sqlite")
        )
    pg_rate: float | None = None
    with postgres(args.postgres_url, not args.no_postgres) as pg_url:
        if pg_url:
            pg_rate = asyncio.run(run(pg_url, orders, args.batch, "postgresql"))
    pg_text = f"{pg_rate:.0f}" if pg_rate is not None else "n/a"
    print(f"import_orders: sqlite_orders_per_s={sqlite_rate:.0f} postgres_orders_per_s={pg_text}")


if __name__ == "__main__":
    main()
