"""7-day no-reason returns, row by row of DOMAIN.md §1 (CPL 25; 办法; 条例)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from kefu.aftersales.enums import Payer, ProductCategory, RequestKind, RequestReason
from kefu.aftersales.policy import PolicyGift, RequestLine, evaluate_request
from kefu.aftersales.settings import AftersalesPolicySettings
from kefu.store.enums import ReturnExclusion
from tests.aftersales.builders import CN, UTC, cn, codes, failed_codes, line, order, request

RETURN = RequestKind.return_refund
NO_REASON = RequestReason.no_reason


def no_reason_return(o, at: datetime, **kw):  # type: ignore[no-untyped-def]
    return evaluate_request(o, request(RETURN, NO_REASON, at, order_=o, **kw))


# --- Clock: day 1 is the day after signing; last day = signing date + 7, 24:00 shop time ----


@pytest.mark.parametrize(
    ("requested_at", "allowed"),
    [
        (cn(11, 3, 16), True),  # the signing day itself
        (cn(11, 4, 0, 0), True),  # day 1
        (cn(11, 10, 23, 59), True),  # day 7 at 23:59
        (datetime(2026, 11, 10, 15, 59, 59, tzinfo=UTC), True),  # 23:59:59 Beijing, in UTC
        (cn(11, 11, 0, 0), False),  # day 8 at 00:00
        (cn(11, 11, 9), False),  # day 8
        (cn(12, 1), False),
    ],
)
def test_seven_day_clock_boundaries(requested_at: datetime, allowed: bool) -> None:
    o = order(line())  # signed 3 Nov 15:00 Beijing time
    decision = no_reason_return(o, requested_at)
    assert decision.allowed is allowed
    deadline = decision.deadline("no_reason_return_by")
    assert deadline is not None
    assert deadline.last_day.isoformat() == "2026-11-10"
    assert deadline.closes_at == datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    expected = "no_reason_window" if allowed else "no_reason_window_expired"
    assert expected in codes(decision)


def test_expired_explanation_names_dates_and_article() -> None:
    decision = no_reason_return(order(line()), cn(11, 12))
    rule = next(r for r in decision.reasons if r.code == "no_reason_window_expired")
    assert rule.zh == "签收于 11月3日，七天无理由退货期至 11月10日 24:00，已超期"
    assert rule.article == "《网络购买商品七日无理由退货暂行办法》第十条"
    assert "10 Nov 24:00" in rule.en
    assert rule.article_en == "7-day return measures art. 10"
    assert decision.max_refundable_amount == 0
    assert decision.refund_if_allowed == Decimal("199.00")


def test_signing_late_evening_beijing_is_a_different_day_than_utc() -> None:
    # 23:30 on 3 Nov in Beijing is 15:30 UTC the same day; 00:30 on 4 Nov in Beijing is still
    # 3 Nov in UTC. The shop's time zone decides which calendar day the signing falls on.
    late = datetime(2026, 11, 3, 23, 30, tzinfo=CN)
    just_after_midnight = datetime(2026, 11, 4, 0, 30, tzinfo=CN)
    asked = datetime(2026, 11, 11, 12, 0, tzinfo=CN)  # 04:00 UTC on 11 Nov

    beijing_late = order(line(), signed_at=late)
    assert not no_reason_return(beijing_late, asked).allowed  # last day 10 Nov Beijing

    beijing_after_midnight = order(line(), signed_at=just_after_midnight)
    decision = no_reason_return(beijing_after_midnight, asked)
    assert decision.allowed  # signed on 4 Nov Beijing: last day 11 Nov
    assert decision.deadline("no_reason_return_by").last_day.isoformat() == "2026-11-11"

    utc_shop = order(line(), signed_at=just_after_midnight, timezone="UTC")
    decision = no_reason_return(utc_shop, asked)
    assert not decision.allowed  # the same instant is 3 Nov in UTC: last day 10 Nov
    assert decision.deadline("no_reason_return_by").last_day.isoformat() == "2026-11-10"


def test_signing_time_missing_uses_confirmation_then_in_time() -> None:
    o = order(line(), signed_at=None, finished_at=cn(11, 5))
    decision = no_reason_return(o, cn(11, 12, 20))
    assert decision.allowed
    assert "signing_time_from_confirmation" in codes(decision)
    nothing_known = order(line(), signed_at=None)
    decision = no_reason_return(nothing_known, cn(12, 30))
    assert decision.allowed and "signing_time_unknown" in codes(decision)


# --- Exclusions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exclusion",
    [
        ReturnExclusion.custom_made,
        ReturnExclusion.perishable,
        ReturnExclusion.digital_unsealed,
        ReturnExclusion.periodical,
    ],
)
@pytest.mark.parametrize("confirmed", [True, False])
def test_always_excluded_whatever_the_confirmation(
    exclusion: ReturnExclusion, confirmed: bool
) -> None:
    o = order(line(return_exclusion=exclusion, exclusion_confirmed=confirmed))
    decision = no_reason_return(o, cn(11, 5))
    assert not decision.allowed
    rule = next(r for r in decision.reasons if r.code == "excluded_always")
    assert "不适用七天无理由退货" in rule.zh
    assert "第六条" in rule.article


@pytest.mark.parametrize(
    "exclusion",
    [
        ReturnExclusion.hygiene_unsealed,
        ReturnExclusion.value_lost_on_activation,
        ReturnExclusion.near_expiry_or_flawed,
    ],
)
def test_confirm_at_purchase_exclusions(exclusion: ReturnExclusion) -> None:
    confirmed = order(line(return_exclusion=exclusion, exclusion_confirmed=True))
    decision = no_reason_return(confirmed, cn(11, 5))
    assert failed_codes(decision) == {"excluded_confirmed"}
    assert "第七条" in decision.failures[0].article

    # Without the buyer's explicit confirmation the seller cannot refuse (办法 20; 条例 19).
    unconfirmed = order(line(return_exclusion=exclusion, exclusion_confirmed=False))
    decision = no_reason_return(unconfirmed, cn(11, 5))
    assert decision.allowed
    rule = next(r for r in decision.reasons if r.code == "exclusion_not_confirmed")
    assert "卖家不得拒绝" in rule.zh
    assert "第二十条" in rule.article and "第十九条" in rule.article


def test_shop_may_waive_an_exclusion() -> None:
    settings = AftersalesPolicySettings(waived_exclusions=frozenset({ReturnExclusion.perishable}))
    o = order(line(return_exclusion=ReturnExclusion.perishable))
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), order_=o), settings)
    assert decision.allowed and "exclusion_waived" in codes(decision)


# --- "完好" and not intact, by category (办法 8, 9) ----------------------------------------------


@pytest.mark.parametrize(
    ("category", "issues", "intact"),
    [
        # opening to inspect and reasonable testing are always allowed (办法 8)
        (ProductCategory.electronics, ("opened_for_inspection", "reasonably_tested"), True),
        (ProductCategory.clothing, ("opened_for_inspection",), True),
        # food / cosmetics / medical devices: one-time seal broken
        (ProductCategory.food, ("seal_broken",), False),
        (ProductCategory.cosmetics, ("seal_broken",), False),
        (ProductCategory.medical_device, ("seal_broken",), False),
        (ProductCategory.clothing, ("seal_broken",), True),  # not a ground for clothing
        (ProductCategory.electronics, ("seal_broken",), True),
        # electronics: repair, serial labels, wear, activation, personal data
        (ProductCategory.electronics, ("unauthorised_repair",), False),
        (ProductCategory.electronics, ("serial_label_damaged",), False),
        (ProductCategory.electronics, ("heavy_wear",), False),
        (ProductCategory.electronics, ("activated",), False),
        (ProductCategory.computer, ("personal_data",), False),
        (ProductCategory.home_appliance, ("activated",), False),
        (ProductCategory.clothing, ("activated",), True),
        # clothing / shoes / bags / toys / home textiles: tags, soiling, damage
        (ProductCategory.clothing, ("tags_removed",), False),
        (ProductCategory.shoes, ("soiled",), False),
        (ProductCategory.bags, ("damaged",), False),
        (ProductCategory.toys, ("tags_removed",), False),
        (ProductCategory.home_textiles, ("soiled",), False),
        (ProductCategory.cosmetics, ("tags_removed",), True),
        # general test for every category: accessories present, not used beyond inspection
        (ProductCategory.books, ("missing_parts",), False),
        (ProductCategory.food, ("used_beyond_inspection",), False),
        (ProductCategory.books, (), True),
    ],
)
def test_condition_by_category(
    category: ProductCategory, issues: tuple[str, ...], intact: bool
) -> None:
    o = order(line(title="商品", category=category))
    decision = no_reason_return(o, cn(11, 5), issues=issues)
    assert decision.allowed is intact
    assert ("intact" if intact else "not_intact") in codes(decision)
    if not intact:
        rule = next(r for r in decision.failures if r.code == "not_intact")
        assert "不完好" in rule.zh and "not intact" in rule.en
        assert "第九条" in rule.article or "第八条" in rule.article


def test_condition_unknown_needs_inspection() -> None:
    decision = no_reason_return(order(line()), cn(11, 5))
    assert decision.allowed and decision.requires_inspection and decision.requires_return
    assert "intact_required" in codes(decision)


# --- Seller on notice (办法 11), refund deadline (13), method (14), penalties (31) ---


def test_return_address_refund_deadline_method_and_processing_deadline() -> None:
    o = order(line())
    r = request(RETURN, NO_REASON, cn(11, 6), order_=o, returned_goods_received_at=cn(11, 9, 18))
    decision = evaluate_request(o, r)
    assert decision.allowed
    assert "return_address" in codes(decision)
    refund_due = decision.deadline("refund_due_by")
    assert refund_due is not None and refund_due.last_day.isoformat() == "2026-11-16"
    assert "第十三条" in refund_due.article
    process = decision.deadline("process_request_by")
    assert process is not None and process.last_day.isoformat() == "2026-11-21"
    assert "refund_original_method" in codes(decision)

    not_yet_back = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 6), order_=o))
    assert not_yet_back.deadline("refund_due_by") is None
    assert "refund_due_after_receipt" in codes(not_yet_back)


# --- Gifts (办法 12, 15) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "refund", "code"),
    [
        (True, "199.00", "gifts_returned"),
        (False, "189.00", "gift_deducted"),
        (None, "199.00", "gifts_must_return"),
    ],
)
def test_gifts_returned_or_price_deducted(returned: bool | None, refund: str, code: str) -> None:
    o = order(line(), gifts=(PolicyGift("丝巾", Decimal("10.00"), "L1"),))
    decision = no_reason_return(o, cn(11, 5), gifts_returned=returned)
    assert decision.allowed
    assert decision.max_refundable_amount == Decimal(refund)
    assert code in codes(decision)


def test_gift_of_another_line_is_not_affected() -> None:
    o = order(
        line("L1"),
        line("L2", title="衬衫", price="99.00"),
        gifts=(PolicyGift("丝巾", Decimal("10.00"), "L2"),),
    )
    r = request(RETURN, NO_REASON, cn(11, 5), RequestLine("L1", 1), issues=(), gifts_returned=False)
    decision = evaluate_request(o, r)
    assert decision.max_refundable_amount == Decimal("199.00")
    assert not decision.deductions


def test_order_gift_affected_only_when_everything_is_returned() -> None:
    o = order(line("L1"), line("L2", price="99.00"), gifts=(PolicyGift("帆布袋", Decimal("15")),))
    part = request(RETURN, NO_REASON, cn(11, 5), RequestLine("L1", 1), gifts_returned=False)
    assert evaluate_request(o, part).max_refundable_amount == Decimal("199.00")
    whole = request(RETURN, NO_REASON, cn(11, 5), order_=o, gifts_returned=False)
    assert evaluate_request(o, whole).max_refundable_amount == Decimal("283.00")


# --- Return shipping (CPL 25; 办法 18; Taobao arts. 53, 54) --------------------------------------


def test_buyer_pays_return_leg_unless_agreed() -> None:
    o = order(line())
    decision = no_reason_return(o, cn(11, 5))
    assert decision.shipping.return_leg is Payer.buyer
    assert decision.shipping.outbound is Payer.seller  # free shipping
    assert "free_shipping_return_leg_only" in codes(decision)  # Taobao art. 53

    agreed = evaluate_request(
        o, request(RETURN, NO_REASON, cn(11, 5), order_=o, seller_agreed_return_shipping=True)
    )
    assert agreed.shipping.return_leg is Payer.seller
    shop = AftersalesPolicySettings(seller_pays_no_reason_return_shipping=True)
    assert (
        evaluate_request(
            o, request(RETURN, NO_REASON, cn(11, 5), order_=o), shop
        ).shipping.return_leg
        is Payer.seller
    )


def test_not_free_shipping_buyer_pays_all_shipping() -> None:
    o = order(line(), shipping_fee="12.00")
    decision = no_reason_return(o, cn(11, 5))
    assert decision.shipping.outbound is Payer.buyer
    assert decision.shipping.return_leg is Payer.buyer
    assert decision.max_refundable_amount == Decimal("199.00")  # the 12.00 stays
    assert "outbound_kept_not_free_shipping" in codes(decision)
    widened = AftersalesPolicySettings(refund_outbound_shipping_on_no_reason_return=True)
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), order_=o), widened)
    assert decision.max_refundable_amount == Decimal("211.00")
    assert decision.shipping.outbound_refund == Decimal("12.00")


def test_breaking_free_shipping_threshold_deducts_outbound_shipping() -> None:
    o = order(
        line("L1", price="80.00"),
        line("L2", title="衬衫", price="40.00"),
        free_shipping_threshold=Decimal("99.00"),
        standard_shipping_fee=Decimal("8.00"),
    )
    # Returning L2 keeps ¥80 < ¥99: the seller may deduct the ¥8 outbound shipping (办法 18).
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L2", 1)))
    assert decision.allowed
    assert decision.shipping.outbound_deduction == Decimal("8.00")
    assert decision.shipping.outbound is Payer.buyer
    assert decision.max_refundable_amount == Decimal("32.00")
    assert "threshold_broken_deduct" in codes(decision)
    # The seller may also choose not to deduct.
    lenient = AftersalesPolicySettings(deduct_outbound_on_threshold_break=False)
    decision = evaluate_request(
        o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L2", 1)), lenient
    )
    assert decision.max_refundable_amount == Decimal("40.00")


def test_threshold_still_met_means_no_deduction() -> None:
    o = order(
        line("L1", price="120.00"),
        line("L2", title="衬衫", price="40.00"),
        free_shipping_threshold=Decimal("99.00"),
        standard_shipping_fee=Decimal("8.00"),
    )
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L2", 1)))
    assert decision.max_refundable_amount == Decimal("40.00")
    assert "free_shipping_threshold_kept" in codes(decision)


def test_seven_day_exchange_buyer_pays_all_shipping() -> None:
    o = order(line())
    decision = evaluate_request(o, request(RequestKind.exchange, NO_REASON, cn(11, 5), order_=o))
    assert decision.allowed and decision.requires_return
    assert decision.shipping.return_leg is Payer.buyer
    assert decision.shipping.reship is Payer.buyer
    assert decision.max_refundable_amount == 0
    assert any("第五十四条" in r.article for r in decision.notes)
    late = evaluate_request(o, request(RequestKind.exchange, NO_REASON, cn(11, 12), order_=o))
    assert not late.allowed
    off = AftersalesPolicySettings(no_reason_exchange_allowed=False)
    assert not evaluate_request(
        o, request(RequestKind.exchange, NO_REASON, cn(11, 5), order_=o), off
    ).allowed


# --- Bundles / 满减: partial returns re-priced at purchase (办法 16, 17; 条例 18) ----------------


def test_partial_return_of_discounted_order_is_repriced() -> None:
    # ¥300 + ¥100 with 满400减40: the discount is spread 30 / 10.
    o = order(line("L1", price="300.00"), line("L2", title="衬衫", price="100.00"), discount="40")
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L2", 1)))
    assert decision.max_refundable_amount == Decimal("90.00")
    assert "repriced_at_purchase" in codes(decision)
    rest = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L1", 1)))
    assert rest.max_refundable_amount == Decimal("270.00")


def test_refund_never_exceeds_what_is_left_on_the_line() -> None:
    o = order(
        line(quantity=3, price="10.00", refunded_amount=Decimal("10.00"), returned_quantity=1)
    )
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L1", 2)))
    assert decision.max_refundable_amount == Decimal("20.00")
    too_many = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 5), RequestLine("L1", 3)))
    assert failed_codes(too_many) == {"quantity_not_held"}


# --- Shop rules on top: VIP and category windows --------------------------------------------------


def test_vip_window_widened_to_thirty_days() -> None:
    settings = AftersalesPolicySettings(tier_no_reason_return_days={"vip": 30})
    vip = order(line(), customer_tier="vip")
    normal = order(line())
    at = cn(11, 25)
    decision = evaluate_request(vip, request(RETURN, NO_REASON, at, order_=vip), settings)
    assert decision.allowed
    rule = next(r for r in decision.reasons if r.code == "no_reason_window")
    assert "本店VIP会员延长至 30 天" in rule.zh and "本店售后政策" in rule.article
    assert decision.deadline("no_reason_return_by").last_day.isoformat() == "2026-12-03"  # type: ignore[union-attr]
    assert not evaluate_request(
        normal, request(RETURN, NO_REASON, at, order_=normal), settings
    ).allowed


def test_category_window_applies_per_line() -> None:
    settings = AftersalesPolicySettings(category_no_reason_return_days={ProductCategory.shoes: 15})
    o = order(line("L1"), line("L2", title="跑鞋", category=ProductCategory.shoes))
    decision = evaluate_request(o, request(RETURN, NO_REASON, cn(11, 14), order_=o), settings)
    assert not decision.allowed
    assert [ld.allowed for ld in decision.lines] == [False, True]
    shoes_only = evaluate_request(
        o, request(RETURN, NO_REASON, cn(11, 14), RequestLine("L2", 1)), settings
    )
    assert shoes_only.allowed
