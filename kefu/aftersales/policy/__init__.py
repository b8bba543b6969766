"""The after-sales policy engine (7-day no-reason returns, quality problems, price protection,
order-state rules), its inputs, its explained decisions and agents' overrides.

    decision = evaluate_request(order, request, settings)
    decision.allowed, decision.explain("zh_CN"), decision.max_refundable_amount

See docs/aftersales-policy.md for the rules, the articles and the settings.
"""

from kefu.aftersales.policy.convert import (
    category_from_text,
    policy_order_from_store,
    settings_for_store,
)
from kefu.aftersales.policy.decision import (
    Deadline,
    LineDecision,
    Override,
    PolicyDecision,
    RuleResult,
    ShippingPlan,
    override_decision,
)
from kefu.aftersales.policy.engine import evaluate_request
from kefu.aftersales.policy.inputs import (
    AftersalesRequest,
    ConditionReport,
    PolicyGift,
    PolicyLine,
    PolicyOrder,
    RequestLine,
)

__all__ = [
    "AftersalesRequest",
    "ConditionReport",
    "Deadline",
    "LineDecision",
    "Override",
    "PolicyDecision",
    "PolicyGift",
    "PolicyLine",
    "PolicyOrder",
    "RequestLine",
    "RuleResult",
    "ShippingPlan",
    "category_from_text",
    "evaluate_request",
    "override_decision",
    "policy_order_from_store",
    "settings_for_store",
]
