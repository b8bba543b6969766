"""Policy settings: the law's values as defaults; shop rules may only widen."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kefu.aftersales.enums import LEGAL_DURABLE_CATEGORIES, Payer, ProductCategory
from kefu.aftersales.settings import (
    DEFAULT_POLICY_SETTINGS,
    AftersalesPolicySettings,
    parse_policy_settings,
)
from kefu.core.errors import Invalid


def test_defaults_are_the_law() -> None:
    s = DEFAULT_POLICY_SETTINGS
    assert s.no_reason_return_days == 7
    assert s.refund_due_days_after_receipt == 7
    assert s.quality_return_days == 7
    assert s.quality_exchange_days == 15
    assert s.durable_burden_of_proof_months == 6
    assert s.durable_categories == LEGAL_DURABLE_CATEGORIES
    assert s.process_request_days == 15
    assert s.seller_pays_no_reason_return_shipping is False  # CPL 25: buyer unless agreed
    assert s.deduct_outbound_on_threshold_break is True  # 办法 18 permits it
    assert s.refused_delivery_return_leg_payer is Payer.buyer  # UNCONFIRMED reading


@pytest.mark.parametrize(
    "widening",
    [
        {"no_reason_return_days": 15},
        {"tier_no_reason_return_days": {"vip": 30, "svip": 45}},
        {"category_no_reason_return_days": {"shoes": 30}},
        {"refund_due_days_after_receipt": 3},
        {"process_request_days": 2},
        {"quality_return_days": 30},
        {"quality_exchange_days": 30},
        {"durable_burden_of_proof_months": 12},
        {"durable_categories": ["computer", "home_appliance", "vehicle", "electronics"]},
        {"waived_exclusions": ["perishable"]},
        {"seller_pays_no_reason_return_shipping": True},
        {"deduct_outbound_on_threshold_break": False},
        {"price_protection_days": 0},
    ],
)
def test_widening_is_accepted(widening: dict[str, Any]) -> None:
    assert parse_policy_settings(widening) is not None
    AftersalesPolicySettings(**widening)


@pytest.mark.parametrize(
    ("narrowing", "field", "words"),
    [
        ({"no_reason_return_days": 5}, "no_reason_return_days", "不得少于 7 天"),
        (
            {"tier_no_reason_return_days": {"normal": 3}},
            "tier_no_reason_return_days.normal",
            "不得少于 7 天",
        ),
        (
            {"category_no_reason_return_days": {"clothing": 0}},
            "category_no_reason_return_days.clothing",
            "第十九条",
        ),
        ({"refund_due_days_after_receipt": 10}, "refund_due_days_after_receipt", "不得超过 7 天"),
        ({"process_request_days": 20}, "process_request_days", "不得超过 15 天"),
        ({"quality_return_days": 3}, "quality_return_days", "第二十四条"),
        ({"quality_exchange_days": 10}, "quality_exchange_days", "不得少于 15 天"),
        ({"durable_burden_of_proof_months": 3}, "durable_burden_of_proof_months", "第二十三条"),
        ({"durable_categories": ["computer"]}, "durable_categories", "不能去掉法定品类"),
    ],
)
def test_narrowing_is_rejected_with_a_chinese_message(
    narrowing: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(Invalid) as caught:
        parse_policy_settings(narrowing)
    error = caught.value
    assert error.status == 422 and error.code == "aftersales_settings_invalid"
    assert error.zh.startswith("售后政策设置有误：") and words in error.zh
    assert error.errors[0]["field"] == field
    assert error.errors[0]["message_en"]
    with pytest.raises(ValidationError, match=words):
        AftersalesPolicySettings(**narrowing)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(Invalid) as caught:
        parse_policy_settings(
            {
                "no_reason_return_days": 3,
                "refund_due_days_after_receipt": 14,
                "quality_return_days": 1,
            }
        )
    fields = [e["field"] for e in caught.value.errors]
    assert fields == [
        "no_reason_return_days",
        "refund_due_days_after_receipt",
        "quality_return_days",
    ]


def test_bad_types_and_unknown_keys() -> None:
    with pytest.raises(Invalid) as caught:
        parse_policy_settings({"no_reason_return_days": "seven", "return_days": 9})
    messages = {e["field"]: e["message_zh"] for e in caught.value.errors}
    assert messages["no_reason_return_days"].endswith("应为整数")
    assert messages["return_days"].endswith("不认识的设置项")


def test_empty_settings_are_the_defaults() -> None:
    assert parse_policy_settings(None) is DEFAULT_POLICY_SETTINGS
    assert parse_policy_settings({}) is DEFAULT_POLICY_SETTINGS


def test_widest_window_wins() -> None:
    s = AftersalesPolicySettings(
        no_reason_return_days=10,
        tier_no_reason_return_days={"vip": 30},
        category_no_reason_return_days={ProductCategory.shoes: 15},
    )
    assert s.no_reason_days_for("normal", ProductCategory.clothing) == 10  # type: ignore[arg-type]
    assert s.no_reason_days_for("normal", ProductCategory.shoes) == 15  # type: ignore[arg-type]
    assert s.no_reason_days_for("vip", ProductCategory.shoes) == 30  # type: ignore[arg-type]
