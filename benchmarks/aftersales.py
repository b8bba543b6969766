"""After-sales policy decisions per second.

Generates 100,000 orders (seeded, so every run decides the same cases) across every status,
request kind, reason and category: one to four lines, exclusions with and without the buyer's
confirmation, order discounts, shipping fees and free-shipping thresholds, gifts, earlier partial
refunds, condition reports, VIP customers with a widened window, requests spread over the first
year after payment. Builds all inputs first, then times only `evaluate_request` over them in one
process. Prints the mix of outcomes, decisions/s and, last line, `aftersales: decisions_per_s=…`.

    .venv/bin/python benchmarks/aftersales.py            # 100,000 orders
    .venv/bin/python benchmarks/aftersales.py --orders 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kefu.aftersales.enums import ConditionIssue, ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import (
    AftersalesRequest,
    ConditionReport,
    PolicyGift,
    PolicyLine,
    PolicyOrder,
    RequestLine,
    evaluate_request,
)
from kefu.aftersales.refunds import net_line_amounts
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.store.enums import CustomerTier, OrderStatus, ReturnExclusion

CN = ZoneInfo("Asia/Shanghai")
STATUSES = [
    (OrderStatus.TRADE_FINISHED, 40),
    (OrderStatus.TRADE_BUYER_SIGNED, 15),
    (OrderStatus.WAIT_BUYER_CONFIRM_GOODS, 15),
    (OrderStatus.WAIT_SELLER_SEND_GOODS, 15),
    (OrderStatus.SELLER_CONSIGNED_PART, 5),
    (OrderStatus.WAIT_BUYER_PAY, 5),
    (OrderStatus.TRADE_CLOSED, 5),
]
KINDS = [
    (RequestKind.return_refund, 40),
    (RequestKind.refund_only, 25),
    (RequestKind.exchange, 15),
    (RequestKind.resend, 7),
    (RequestKind.repair, 5),
    (RequestKind.refused_delivery, 8),
]
REASONS = [
    (RequestReason.no_reason, 50),
    (RequestReason.quality, 20),
    (RequestReason.wrong_item, 5),
    (RequestReason.missing_item, 5),
    (RequestReason.not_as_described, 5),
    (RequestReason.damaged_in_transit, 5),
    (RequestReason.not_received, 5),
    (RequestReason.price_protection, 5),
]
EXCLUSIONS = [None] * 17 + list(ReturnExclusion)
SIGNED_STATUSES = {OrderStatus.TRADE_FINISHED, OrderStatus.TRADE_BUYER_SIGNED}


T = TypeVar("T")


def weighted(rng: random.Random, table: list[tuple[T, int]]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def generate(n: int, seed: int = 23) -> list[tuple[PolicyOrder, AftersalesRequest]]:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=CN)
    categories = list(ProductCategory)
    issues = list(ConditionIssue)
    cases = []
    for i in range(n):
        status: OrderStatus = weighted(rng, STATUSES)
        paid_at = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        lines = []
        for j in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            unit = Decimal(rng.randrange(990, 99_900)).scaleb(-2)
            returned = 1 if quantity > 1 and rng.random() < 0.1 else 0
            lines.append(
                PolicyLine(
                    line_id=f"{i}-{j}",
                    title=f"商品{j}",
                    category=rng.choice(categories),
                    quantity=quantity,
                    unit_price=unit,
                    paid_amount=unit * quantity,
                    return_exclusion=rng.choice(EXCLUSIONS),
                    exclusion_confirmed=rng.random() < 0.5,
                    refunded_amount=unit * returned,
                    returned_quantity=returned,
                    shipped=rng.random() < 0.5
                    if status is OrderStatus.SELLER_CONSIGNED_PART
                    else None,
                )
            )
        goods = sum((line.paid_amount for line in lines), Decimal("0"))
        discount = (goods * rng.choice((0, 0, 0, 5, 10, 20)) / 100).quantize(Decimal("0.01"))
        net = net_line_amounts([line.paid_amount for line in lines], discount)
        lines = [
            line
            if line.refunded_amount <= value
            else PolicyLine(
                line.line_id,
                line.title,
                line.category,
                line.quantity,
                line.unit_price,
                line.paid_amount,
                line.return_exclusion,
                line.exclusion_confirmed,
                value,
                line.returned_quantity,
                line.shipped,
            )
            for line, value in zip(lines, net, strict=True)
        ]
        fee = Decimal(rng.choice((0, 0, 0, 600, 1000))).scaleb(-2)
        signed = status in SIGNED_STATUSES
        signed_at = paid_at + timedelta(hours=rng.randrange(24, 24 * 6)) if signed else None
        order = PolicyOrder(
            order_id=str(i),
            status=status,
            placed_at=paid_at,
            paid_at=None if status is OrderStatus.WAIT_BUYER_PAY else paid_at,
            shipped_at=paid_at + timedelta(hours=12)
            if status not in (OrderStatus.WAIT_BUYER_PAY, OrderStatus.WAIT_SELLER_SEND_GOODS)
            else None,
            signed_at=signed_at,
            finished_at=signed_at + timedelta(days=3)
            if signed_at and status is OrderStatus.TRADE_FINISHED
            else None,
            lines=tuple(lines),
            paid_amount=goods - discount + fee,
            refunded_amount=sum((line.refunded_amount for line in lines), Decimal("0")),
            shipping_fee=fee,
            order_discount=discount,
            free_shipping=fee == 0,
            free_shipping_threshold=Decimal("99.00") if rng.random() < 0.3 else None,
            standard_shipping_fee=Decimal("8.00"),
            customer_tier=CustomerTier.vip if rng.random() < 0.15 else CustomerTier.normal,
            gifts=(PolicyGift("赠品", Decimal("5.00"), lines[0].line_id),)
            if rng.random() < 0.1
            else (),
        )
        chosen = rng.sample(lines, rng.randint(1, len(lines)))
        kind: RequestKind = weighted(rng, KINDS)
        reason: RequestReason = weighted(rng, REASONS)
        if reason is RequestReason.price_protection:
            kind = RequestKind.refund_only
        request = AftersalesRequest(
            kind=kind,
            reason=reason,
            lines=tuple(
                RequestLine(
                    line.line_id,
                    rng.randint(1, line.quantity - line.returned_quantity or 1),
                    current_unit_price=line.unit_price * Decimal("0.9"),
                )
                for line in chosen
            ),
            # Most requests come within days of receipt, some much later.
            requested_at=(signed_at or paid_at)
            + timedelta(hours=rng.randrange(1, 24 * (10 if rng.random() < 0.7 else 60))),
            condition=ConditionReport(
                frozenset(rng.sample(issues, rng.choice((0, 0, 0, 1, 2)))),
                gifts_returned=rng.choice((None, True, False)),
            )
            if rng.random() < 0.6
            else None,
        )
        cases.append((order, request))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="time this many passes, keep best")
    args = parser.parse_args()

    settings = AftersalesPolicySettings(
        tier_no_reason_return_days={CustomerTier.vip: 30}, price_protection_days=15
    )
    t0 = time.perf_counter()
    cases = generate(args.orders)
    print(f"generated {len(cases):,} orders in {time.perf_counter() - t0:.1f} s")

    # The inputs live for the whole run; moving them out of the cyclic GC's reach keeps the
    # collector from rescanning 100,000 order graphs while decisions are made (a service
    # evaluating one request at a time never has them around at all).
    gc.collect()
    gc.freeze()
    evaluate_request(*cases[0], settings)  # warm caches (time zones)
    best = best_cpu = float("inf")
    outcomes: Counter[str] = Counter()
    for round_no in range(args.rounds):
        counts: Counter[str] = Counter()
        started, cpu_started = time.perf_counter(), time.process_time()
        for order, request in cases:
            decision = evaluate_request(order, request, settings)
            counts["allowed" if decision.allowed else "refused"] += 1
            counts[decision.kind.value] += 1
            if decision.max_refundable_amount:
                counts["with_refund"] += 1
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        best, best_cpu = min(best, elapsed), min(best_cpu, cpu)
        outcomes = counts
        print(
            f"round {round_no + 1}: {len(cases):,} decisions in {elapsed:.2f} s wall, "
            f"{cpu:.2f} s CPU"
        )
    print(", ".join(f"{k}={v:,}" for k, v in sorted(outcomes.items())))
    load = os.getloadavg()[0]
    print(
        f"one process; CPU-time rate {len(cases) / best_cpu:,.0f} decisions/s; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"aftersales: decisions_per_s={len(cases) / best:.0f}")


if __name__ == "__main__":
    main()
