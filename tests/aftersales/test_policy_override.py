"""Agents' overrides: a new decision carrying the engine's, money never beyond the cap."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kefu.aftersales.enums import RequestKind, RequestReason
from kefu.aftersales.policy import PolicyDecision, evaluate_request, override_decision
from kefu.core.audit import Actor
from kefu.core.errors import Invalid
from tests.aftersales.builders import cn, line, order, request

AGENT = Actor("user", 7, "小王")
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def late_return() -> PolicyDecision:
    o = order(line(), shipping_fee="10.00")
    return evaluate_request(
        o, request(RequestKind.return_refund, RequestReason.no_reason, cn(11, 14), order_=o)
    )


def test_goodwill_override_of_a_refusal_carries_the_original() -> None:
    decision = late_return()
    assert not decision.allowed
    overridden = override_decision(
        decision, allowed=True, reason="老顾客，超期两天，同意退货", actor=AGENT, at=AT
    )
    assert overridden.allowed
    assert overridden.max_refundable_amount == decision.refund_if_allowed == Decimal("199.00")
    assert not decision.allowed
    assert overridden.original is decision
    assert overridden.override is not None and overridden.override.actor_id == 7
    assert overridden.reasons[0].code == "agent_override"
    assert "小王" in overridden.reasons[0].zh and "老顾客" in overridden.reasons[0].zh
    assert overridden.explain().startswith("可以受理")
    # The record is JSON-able for the audit log.
    payload = json.loads(json.dumps(overridden.to_dict()))
    assert payload["original"]["allowed"] is False
    assert payload["override"]["reason"] == "老顾客，超期两天，同意退货"


def test_override_amount_is_capped_by_what_was_paid_and_not_refunded() -> None:
    decision = late_return()
    assert decision.refund_cap == Decimal("209.00")  # goods + the outbound shipping paid
    with_shipping = override_decision(
        decision,
        allowed=True,
        reason="补偿运费",
        actor=AGENT,
        max_refundable_amount=Decimal("209.00"),
    )
    assert with_shipping.max_refundable_amount == Decimal("209.00")
    with pytest.raises(Invalid) as caught:
        override_decision(
            decision,
            allowed=True,
            reason="多退",
            actor=AGENT,
            max_refundable_amount=Decimal("209.01"),
        )
    assert "超过可退上限" in caught.value.zh


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_needs_a_reason(reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        override_decision(late_return(), allowed=True, reason=reason, actor=AGENT)
    assert caught.value.zh == "请填写人工改判的理由"


def test_refusing_override_refunds_nothing() -> None:
    o = order(line())
    decision = evaluate_request(
        o, request(RequestKind.return_refund, RequestReason.no_reason, cn(11, 5), order_=o)
    )
    refused = override_decision(decision, allowed=False, reason="买家已承认使用过", actor=AGENT)
    assert not refused.allowed and refused.max_refundable_amount == 0
    assert refused.original is decision and decision.allowed
