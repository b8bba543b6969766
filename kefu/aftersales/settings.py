"""After-sales policy settings: every timer and threshold of DOMAIN.md §1 with the law's value as
default, plus the shop's own rules on top.

The invariant: **a shop setting can only widen the buyer's rights.** A configuration that would
narrow what the law grants (a 5-day return window, a 10-day refund deadline, excluding a category
from 7-day returns, dropping a durable category) is rejected with a Chinese message naming the
article. Readings marked UNCONFIRMED in DOMAIN.md are settings too, so a shop or a lawyer can
change the reading without code.

Stores keep their overrides as JSON under `Store.settings["aftersales"]`; `parse_policy_settings`
turns that into a validated `AftersalesPolicySettings` or raises `Invalid` with one Chinese and
English message per field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from kefu.aftersales.enums import LEGAL_DURABLE_CATEGORIES, Payer, ProductCategory
from kefu.core.errors import Invalid
from kefu.store.enums import CustomerTier, ReturnExclusion

# The law's values. Settings may only move away from these in the buyer's favour.
LEGAL_NO_REASON_DAYS = 7  # CPL 25; 办法 10
LEGAL_REFUND_DUE_DAYS = 7  # CPL 25; 办法 13
LEGAL_QUALITY_RETURN_DAYS = 7  # CPL 24
LEGAL_QUALITY_EXCHANGE_DAYS = 15  # 三包 (UNCONFIRMED scope; treated as the floor)
LEGAL_BURDEN_OF_PROOF_MONTHS = 6  # CPL 23
LEGAL_PROCESS_REQUEST_DAYS = 15  # 办法 31: more than 15 days unprocessed is penalised

_SKIP_LAW_CHECK = "skip_law_check"


class NarrowingError(ValueError):
    """A setting that would narrow what the law grants the buyer."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field = field
        self.zh = zh
        self.en = en
        # pydantic and `kefu.core.errors.field_errors` show str(error): Chinese first.
        super().__init__(zh)


class AftersalesPolicySettings(BaseModel):
    """One shop's after-sales policy. Defaults are the law (or the documented platform value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- 7-day no-reason returns (CPL 25; 办法) ---
    no_reason_return_days: int = Field(
        LEGAL_NO_REASON_DAYS, description="七天无理由退货期（天），自签收次日起算；只能延长"
    )
    tier_no_reason_return_days: dict[CustomerTier, int] = Field(
        default_factory=dict, description="按会员等级延长的无理由退货期，如 VIP 30 天"
    )
    category_no_reason_return_days: dict[ProductCategory, int] = Field(
        default_factory=dict, description="按品类延长的无理由退货期"
    )
    waived_exclusions: frozenset[ReturnExclusion] = Field(
        default_factory=frozenset,
        description="本店自愿仍接受无理由退货的不适用情形（放宽，合法）",
    )
    no_reason_exchange_allowed: bool = Field(
        True, description="七天内无理由换货（淘宝规则第五十四条；买家承担全部运费）"
    )
    seller_pays_no_reason_return_shipping: bool = Field(
        False, description="无理由退货的退回运费由卖家承担（另有约定，如运费险）"
    )
    refund_outbound_shipping_on_no_reason_return: bool = Field(
        False,
        description="非包邮商品无理由退货时退还买家已付的发货运费（淘宝第五十三条默认不退）",
    )
    deduct_outbound_on_threshold_break: bool = Field(
        True, description="退货后不再满足满额包邮条件时，退款中扣除发货运费（办法第十八条）"
    )
    threshold_break_on_full_return: bool = Field(
        True,
        description="整单退货也视为不再满足包邮条件（UNCONFIRMED 读法）",
    )
    default_standard_shipping_fee: Decimal | None = Field(
        None, ge=0, description="包邮订单原应收的发货运费，订单未提供时使用；为空则不扣"
    )
    refund_due_days_after_receipt: int = Field(
        LEGAL_REFUND_DUE_DAYS, description="收到退货后退款期限（天）；只能缩短"
    )
    process_request_days: int = Field(
        LEGAL_PROCESS_REQUEST_DAYS, description="处理退货申请的期限（天）；只能缩短"
    )

    # --- quality problems (CPL 24, 23; 三包) ---
    quality_return_days: int = Field(LEGAL_QUALITY_RETURN_DAYS, description="质量问题退货期（天）")
    quality_exchange_days: int = Field(
        LEGAL_QUALITY_EXCHANGE_DAYS, description="质量问题换货期（天）"
    )
    warranty_months: int = Field(
        12, ge=0, description="免费维修期（月）；三包期限按商品目录（UNCONFIRMED）"
    )
    durable_burden_of_proof_months: int = Field(
        LEGAL_BURDEN_OF_PROOF_MONTHS, description="耐用商品瑕疵举证责任倒置期（月）"
    )
    durable_categories: frozenset[ProductCategory] = Field(
        LEGAL_DURABLE_CATEGORIES, description="耐用商品品类（CPL 23）；只能增加"
    )
    allow_refund_only_after_signing_for_fault: bool = Field(
        False, description="签收后质量等问题允许仅退款不退货（本店放宽）"
    )

    # --- price protection (shop policy; no statute) ---
    price_protection_days: int = Field(
        30, ge=0, description="价保期（天），自付款次日起算；0 表示不提供价保"
    )

    # --- order-state rules (Taobao dispute rules) ---
    intercept_before_signing: bool = Field(
        True, description="发货后签收前申请退款：建议拦截快递（淘宝规则第二十三条）"
    )
    refused_delivery_return_leg_payer: Payer = Field(
        Payer.buyer,
        description="无理由拒收时退回运费承担方（UNCONFIRMED；卖家原因拒收由卖家承担）",
    )
    aftersales_entry_days_after_finish: int = Field(
        7, ge=0, description="交易成功后平台售后入口开放天数（UNCONFIRMED，仅提示）"
    )

    # --- counting periods (民法典 201–203) ---
    extend_deadlines_over_holidays: bool = Field(
        False,
        description="期限末日为法定休假日时顺延（民法典第二百零三条；UNCONFIRMED 是否适用）",
    )
    public_holidays: frozenset[date] = Field(
        default_factory=frozenset, description="法定休假日（顺延期限时使用）"
    )

    # --- case workflow timers (shop policy; the sweep in kefu.aftersales.tasks acts on them) ---
    return_shipment_days: int = Field(
        7, ge=1, le=60, description="同意退货后买家寄回期限（天），逾期未填写退货单号自动关闭"
    )
    answer_request_hours: int = Field(
        48, ge=1, le=24 * 15, description="商家处理售后申请的期限（小时），逾期升级给主管"
    )
    auto_approve_refund_only_below: Decimal | None = Field(
        None,
        ge=0,
        description="逾期未处理的仅退款申请，金额低于此值时自动同意；为空则不自动同意",
    )

    @model_validator(mode="after")
    def _never_narrower_than_law(self, info: ValidationInfo) -> AftersalesPolicySettings:
        if info.context and info.context.get(_SKIP_LAW_CHECK):
            return self  # parse_policy_settings lists every problem itself
        problems = narrowing_problems(self)
        if problems:
            raise problems[0]
        return self

    def no_reason_days_for(self, tier: CustomerTier, category: ProductCategory) -> int:
        """The widest window that applies: the base, the customer's tier, the category."""
        days = self.no_reason_return_days
        tier_days = self.tier_no_reason_return_days.get(tier)
        if tier_days is not None and tier_days > days:
            days = tier_days
        category_days = self.category_no_reason_return_days.get(category)
        if category_days is not None and category_days > days:
            days = category_days
        return days


def narrowing_problems(s: AftersalesPolicySettings) -> list[NarrowingError]:
    """Every way `s` narrows the law, in field order (empty when the settings are lawful)."""
    out: list[NarrowingError] = []

    def at_least(field: str, value: int, floor: int, zh_name: str, en_name: str, art: str) -> None:
        if value < floor:
            out.append(
                NarrowingError(
                    field,
                    f"{zh_name}不得少于 {floor} 天，当前设置为 {value} 天；"
                    f"店铺规则只能放宽、不能缩小法定权利（{art}）",
                    f"{en_name} cannot be shorter than {floor} days (set to {value}); "
                    "shop rules may only widen the buyer's statutory rights",
                )
            )

    at_least(
        "no_reason_return_days",
        s.no_reason_return_days,
        LEGAL_NO_REASON_DAYS,
        "七天无理由退货期",
        "The no-reason return period",
        "《消费者权益保护法》第二十五条",
    )
    for tier, days in s.tier_no_reason_return_days.items():
        at_least(
            f"tier_no_reason_return_days.{tier.value}",
            days,
            LEGAL_NO_REASON_DAYS,
            f"会员等级 {tier.value} 的无理由退货期",
            f"The no-reason return period for tier {tier.value}",
            "《消费者权益保护法》第二十五条",
        )
    for category, days in s.category_no_reason_return_days.items():
        if days < LEGAL_NO_REASON_DAYS:
            out.append(
                NarrowingError(
                    f"category_no_reason_return_days.{category.value}",
                    f"品类“{category.value}”的无理由退货期不得少于 {LEGAL_NO_REASON_DAYS} 天"
                    f"（当前 {days} 天）；经营者不得扩大不适用七日无理由退货的商品范围"
                    "（《消费者权益保护法实施条例》第十九条）",
                    f"The no-reason return period for category {category.value} cannot be "
                    f"shorter than {LEGAL_NO_REASON_DAYS} days (set to {days}); sellers may not "
                    "widen the list of goods excluded from 7-day returns",
                )
            )
    if s.refund_due_days_after_receipt > LEGAL_REFUND_DUE_DAYS or (
        s.refund_due_days_after_receipt < 0
    ):
        out.append(
            NarrowingError(
                "refund_due_days_after_receipt",
                f"收到退货后的退款期限不得超过 {LEGAL_REFUND_DUE_DAYS} 天"
                f"（当前 {s.refund_due_days_after_receipt} 天）"
                "（《网络购买商品七日无理由退货暂行办法》第十三条）",
                f"The refund deadline after receiving returned goods cannot exceed "
                f"{LEGAL_REFUND_DUE_DAYS} days (set to {s.refund_due_days_after_receipt})",
            )
        )
    if s.process_request_days > LEGAL_PROCESS_REQUEST_DAYS or s.process_request_days < 0:
        out.append(
            NarrowingError(
                "process_request_days",
                f"处理退货申请的期限不得超过 {LEGAL_PROCESS_REQUEST_DAYS} 天"
                f"（当前 {s.process_request_days} 天）"
                "（《网络购买商品七日无理由退货暂行办法》第三十一条）",
                f"Return requests must be processed within {LEGAL_PROCESS_REQUEST_DAYS} days "
                f"(set to {s.process_request_days})",
            )
        )
    at_least(
        "quality_return_days",
        s.quality_return_days,
        LEGAL_QUALITY_RETURN_DAYS,
        "质量问题退货期",
        "The quality-problem return period",
        "《消费者权益保护法》第二十四条",
    )
    at_least(
        "quality_exchange_days",
        s.quality_exchange_days,
        LEGAL_QUALITY_EXCHANGE_DAYS,
        "质量问题换货期",
        "The quality-problem exchange period",
        "三包规定",
    )
    if s.durable_burden_of_proof_months < LEGAL_BURDEN_OF_PROOF_MONTHS:
        out.append(
            NarrowingError(
                "durable_burden_of_proof_months",
                f"耐用商品瑕疵举证责任期不得少于 {LEGAL_BURDEN_OF_PROOF_MONTHS} 个月"
                f"（当前 {s.durable_burden_of_proof_months} 个月）"
                "（《消费者权益保护法》第二十三条）",
                f"The durable-goods burden-of-proof period cannot be shorter than "
                f"{LEGAL_BURDEN_OF_PROOF_MONTHS} months",
            )
        )
    missing = LEGAL_DURABLE_CATEGORIES - s.durable_categories
    if missing:
        names = "、".join(sorted(c.value for c in missing))
        out.append(
            NarrowingError(
                "durable_categories",
                f"耐用商品品类不能去掉法定品类：{names}（《消费者权益保护法》第二十三条）",
                f"Durable categories cannot drop the statutory ones: {names.replace('、', ', ')}",
            )
        )
    return out


DEFAULT_POLICY_SETTINGS = AftersalesPolicySettings()


def parse_policy_settings(data: dict[str, Any] | None) -> AftersalesPolicySettings:
    """Validate a shop's stored overrides; `Invalid` lists every problem in Chinese and English.

    All narrowing problems are reported at once (not just the first), so an admin fixing a
    configuration sees everything wrong in one go.
    """
    if not data:
        return DEFAULT_POLICY_SETTINGS
    try:
        unchecked = AftersalesPolicySettings.model_validate(data, context={_SKIP_LAW_CHECK: True})
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ()))
            zh = _TYPE_MESSAGES_ZH.get(err.get("type", ""), "取值不正确")
            en = err.get("msg", "")
            errors.append(
                {"field": field, "message_zh": f"{field}：{zh}", "message_en": f"{field}: {en}"}
            )
    else:
        problems = narrowing_problems(unchecked)
        if not problems:
            return unchecked
        errors = [{"field": p.field, "message_zh": p.zh, "message_en": p.en} for p in problems]
    first = errors[0]
    raise Invalid(
        f"售后政策设置有误：{first['message_zh']}",
        f"After-sales policy settings are not valid: {first['message_en']}",
        code="aftersales_settings_invalid",
        errors=errors,
    )


_TYPE_MESSAGES_ZH = {
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "bool_parsing": "应为是或否",
    "decimal_parsing": "应为金额",
    "enum": "不是允许的取值",
    "extra_forbidden": "不认识的设置项",
    "greater_than_equal": "数值太小",
    "date_from_datetime_parsing": "日期格式不正确",
    "date_parsing": "日期格式不正确",
}
