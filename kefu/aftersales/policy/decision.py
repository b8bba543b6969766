"""The engine's answer, explained, and an agent's override of it.

A `PolicyDecision` says whether the request is allowed and why: every rule the engine applied
is a `RuleResult` with a Chinese and an English sentence and the article it rests on. `reasons`
hold the rules that decided (passed or failed); `notes` hold information and advice (intercept
the parcel, burden of proof, refund to the original payment method).

Overrides: an agent may disagree with the engine (a goodwill return after the window, a refusal
of an obviously abused return). `override_decision(decision, allowed=..., reason=..., actor=...)`
returns a new decision that carries the engine's one in `original` and the override in
`override`; the engine's decision is never changed. The after-sales service records the audit
entry (`record_audit(..., action="aftersales.policy_override", before=original.to_dict(),
after=overridden.to_dict(), reason=reason)`) — this module only models it. An override can never
move money beyond `refund_cap` (what is left paid-and-unrefunded for the lines plus shipping):
that is arithmetic, not policy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from kefu.aftersales.enums import REQUEST_KIND_LABELS, Outcome, Payer, RequestKind, RequestReason
from kefu.aftersales.policy import articles
from kefu.aftersales.policy.articles import Article
from kefu.aftersales.refunds import ZERO, Deduction, money
from kefu.core.audit import Actor
from kefu.core.db import utcnow
from kefu.core.errors import Invalid


class RuleResult(NamedTuple):
    """One rule applied: a stable `code`, the outcome, plain sentences and the article.

    A named tuple rather than a dataclass: immutable, and cheap to build, which matters at
    tens of thousands of decisions a second with several rules each.
    """

    code: str
    outcome: Outcome
    zh: str
    en: str
    article: str
    article_en: str
    line_id: str | None = None

    @classmethod
    def of(
        cls,
        code: str,
        outcome: Outcome,
        zh: str,
        en: str,
        article: Article,
        line_id: str | None = None,
    ) -> RuleResult:
        return cls(code, outcome, zh, en, article.zh, article.en, line_id)

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "outcome": self.outcome.value,
            "zh": self.zh,
            "en": self.en,
            "article": self.article,
            "article_en": self.article_en,
            "line_id": self.line_id,
        }


@dataclass(frozen=True, slots=True)
class Deadline:
    """A date something must happen by: `closes_at` is the exclusive instant (UTC), `last_day`
    the local last day (shown as "last_day 24:00")."""

    code: str
    last_day: date
    closes_at: datetime
    zh: str
    en: str
    article: str
    article_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "last_day": self.last_day.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "zh": self.zh,
            "en": self.en,
            "article": self.article,
            "article_en": self.article_en,
        }


@dataclass(frozen=True, slots=True)
class ShippingPlan:
    """Who pays each leg: goods to the buyer (`outbound`), back to the seller (`return_leg`),
    a replacement or repaired item to the buyer (`reship`). `outbound_refund` is outbound
    shipping given back in the refund; `outbound_deduction` is outbound shipping kept back
    because a free-shipping threshold is broken (办法 18)."""

    outbound: Payer = Payer.none
    return_leg: Payer = Payer.none
    reship: Payer = Payer.none
    outbound_refund: Decimal = ZERO
    outbound_deduction: Decimal = ZERO

    def to_dict(self) -> dict[str, Any]:
        return {
            "outbound": self.outbound.value,
            "return_leg": self.return_leg.value,
            "reship": self.reship.value,
            "outbound_refund": str(self.outbound_refund),
            "outbound_deduction": str(self.outbound_deduction),
        }


@dataclass(frozen=True, slots=True)
class LineDecision:
    line_id: str
    allowed: bool
    quantity: int
    refund: Decimal  # goods money for this line if the request goes ahead (0 if refused)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "allowed": self.allowed,
            "quantity": self.quantity,
            "refund": str(self.refund),
        }


@dataclass(frozen=True, slots=True)
class Override:
    actor_kind: str
    actor_id: int | None
    actor_name: str
    reason: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The decision on one after-sales request.

    `max_refundable_amount` is what may be refunded if the request goes ahead (0 when refused);
    `refund_if_allowed` is the same computation ignoring the refusal (what an agent's override
    would refund); `refund_cap` is the hard ceiling no override may pass.
    """

    allowed: bool
    kind: RequestKind
    reason: RequestReason
    reasons: tuple[RuleResult, ...]
    notes: tuple[RuleResult, ...]
    deadlines: tuple[Deadline, ...]
    shipping: ShippingPlan
    max_refundable_amount: Decimal
    refund_if_allowed: Decimal
    refund_cap: Decimal
    requires_return: bool
    requires_inspection: bool
    lines: tuple[LineDecision, ...] = ()
    deductions: tuple[Deduction, ...] = ()
    suggested_kinds: tuple[RequestKind, ...] = ()
    override: Override | None = None
    original: PolicyDecision | None = None

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.reasons if r.failed)

    def deadline(self, code: str) -> Deadline | None:
        for item in self.deadlines:
            if item.code == code:
                return item
        return None

    def explain(self, locale: str = "zh_CN") -> str:
        """The decision as plain sentences, each followed by the rule it applied."""
        zh = locale == "zh_CN"
        rows = [*self.reasons, *self.notes]
        if zh:
            head = "可以受理" if self.allowed else "不予受理"
            lines = [f"{head}：{_kind_zh(self.kind)}"]
            lines += [f"- {r.zh}（{r.article}）" for r in rows]
        else:
            head = "Allowed" if self.allowed else "Not allowed"
            lines = [f"{head}: {_kind_en(self.kind)}"]
            lines += [f"- {r.en} ({r.article_en})" for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "kind": self.kind.value,
            "reason": self.reason.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "notes": [r.to_dict() for r in self.notes],
            "deadlines": [d.to_dict() for d in self.deadlines],
            "shipping": self.shipping.to_dict(),
            "max_refundable_amount": str(self.max_refundable_amount),
            "refund_if_allowed": str(self.refund_if_allowed),
            "refund_cap": str(self.refund_cap),
            "requires_return": self.requires_return,
            "requires_inspection": self.requires_inspection,
            "lines": [line.to_dict() for line in self.lines],
            "deductions": [
                {"code": d.code, "amount": str(d.amount), "zh": d.zh, "en": d.en}
                for d in self.deductions
            ],
            "suggested_kinds": [k.value for k in self.suggested_kinds],
            "override": self.override.to_dict() if self.override else None,
            "original": self.original.to_dict() if self.original else None,
        }


def _kind_zh(kind: RequestKind) -> str:
    return REQUEST_KIND_LABELS[kind][0]


def _kind_en(kind: RequestKind) -> str:
    return REQUEST_KIND_LABELS[kind][1]


MAX_OVERRIDE_REASON = 500  # the audit log's reason column


def override_decision(
    decision: PolicyDecision,
    *,
    allowed: bool,
    reason: str,
    actor: Actor,
    max_refundable_amount: Decimal | None = None,
    at: datetime | None = None,
) -> PolicyDecision:
    """An agent's decision replacing the engine's, carrying the engine's as `original`.

    Allowing a refused request refunds `refund_if_allowed` unless an amount is given; the amount
    may never exceed `refund_cap`. Refusing sets the refund to 0. The reason is required (it is
    what the audit log and the buyer-facing explanation show).
    """
    text = reason.strip()
    if not text:
        raise Invalid("请填写人工改判的理由", "Give a reason for overriding the policy decision")
    if len(text) > MAX_OVERRIDE_REASON:
        raise Invalid(
            f"改判理由不能超过 {MAX_OVERRIDE_REASON} 个字",
            f"The override reason cannot be longer than {MAX_OVERRIDE_REASON} characters",
        )
    if allowed:
        amount = (
            decision.refund_if_allowed if max_refundable_amount is None else max_refundable_amount
        )
        amount = money(amount)
        if amount < 0:
            raise Invalid("退款金额不能为负数", "The refund amount cannot be negative")
        if amount > decision.refund_cap:
            raise Invalid(
                f"退款金额 ¥{amount} 超过可退上限 ¥{decision.refund_cap}（实付金额减去已退金额）",
                f"The refund ¥{amount} exceeds the most that can be refunded, "
                f"¥{decision.refund_cap} (paid minus already refunded)",
            )
    else:
        amount = ZERO
    record = Override(actor.kind, actor.id, actor.name, text, at or utcnow())
    verdict_zh = "同意" if allowed else "拒绝"
    verdict_en = "allowed" if allowed else "refused"
    rule = RuleResult.of(
        "agent_override",
        Outcome.passed if allowed else Outcome.failed,
        f"客服 {actor.name or actor.kind} 人工改判为{verdict_zh}：{text}",
        f"Agent {actor.name or actor.kind} overrode the decision ({verdict_en}): {text}",
        articles.AGENT,
    )
    return replace(
        decision,
        allowed=allowed,
        max_refundable_amount=amount,
        reasons=(rule, *decision.reasons),
        override=record,
        original=decision,
    )
