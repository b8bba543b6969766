"""The after-sales policy engine: is this request allowed, why, by when, who pays what, and how
much money may go back.

How it works. `evaluate_request(order, request, settings)` first checks the request against the
order (lines exist, quantities held, order paid and not closed), then works out where the goods
are (not shipped / in transit / signed for) and hands over to one rule set per request kind.
Rule sets append `RuleResult`s — `reasons` when a rule decides (passed or failed), `notes` for
information and advice — and set who pays each shipping leg. Last, the refund arithmetic
(`kefu.aftersales.refunds`) values the request. The request is allowed when no rule failed.

The engine is pure: no database, no clock (the request carries `requested_at`), no I/O. All
periods are counted in the shop's time zone (`clock`), so a parcel signed at 23:30 Beijing time
starts its 7 days a day earlier than the same instant read in UTC would.

Readings that DOMAIN.md marks UNCONFIRMED, or that the law leaves open, are settings; each is
listed in docs/aftersales-policy.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from kefu.aftersales import refunds
from kefu.aftersales.enums import (
    ALLOWED_HANDLING,
    ALWAYS_EXCLUDED,
    CATEGORY_CONDITION_CLASS,
    CATEGORY_LABELS,
    CLASS_NOT_INTACT,
    CONDITION_ISSUE_LABELS,
    CONFIRM_EXCLUDED,
    EXCLUSION_LABELS,
    GENERAL_NOT_INTACT,
    REQUEST_KIND_LABELS,
    REQUEST_REASON_LABELS,
    SELLER_FAULT_REASONS,
    Outcome,
    Payer,
    RequestKind,
    RequestReason,
)
from kefu.aftersales.policy import articles as art
from kefu.aftersales.policy.articles import Article
from kefu.aftersales.policy.clock import Period, days_after, en_day, months_after, zh_day, zone
from kefu.aftersales.policy.decision import (
    Deadline,
    LineDecision,
    PolicyDecision,
    RuleResult,
    ShippingPlan,
)
from kefu.aftersales.policy.inputs import (
    AftersalesRequest,
    PolicyLine,
    PolicyOrder,
    RequestLine,
)
from kefu.aftersales.refunds import ZERO, Deduction, LineRefund
from kefu.aftersales.settings import DEFAULT_POLICY_SETTINGS, AftersalesPolicySettings
from kefu.store.enums import CLOSED, OrderStatus

UNSHIPPED, IN_TRANSIT, SIGNED = "unshipped", "in_transit", "signed"

# Kinds where goods go back to the seller against money.
_MONEY_BACK_KINDS = frozenset(
    {RequestKind.refund_only, RequestKind.return_refund, RequestKind.refused_delivery}
)
_SIGNED_STATUSES = frozenset({OrderStatus.TRADE_BUYER_SIGNED, OrderStatus.TRADE_FINISHED})
_TIER_ZH = {"vip": "VIP会员", "svip": "SVIP会员", "normal": "普通会员"}


def evaluate_request(
    order: PolicyOrder,
    request: AftersalesRequest,
    settings: AftersalesPolicySettings = DEFAULT_POLICY_SETTINGS,
) -> PolicyDecision:
    """Decide one after-sales request on one order. Pure and deterministic."""
    return _Evaluation(order, request, settings).run()


def _combine(*items: Article) -> Article:
    return Article("；".join(a.zh for a in items), "; ".join(a.en for a in items))


class _Evaluation:
    """State of one evaluation; the methods are the rule sets."""

    def __init__(
        self, order: PolicyOrder, request: AftersalesRequest, s: AftersalesPolicySettings
    ) -> None:
        self.order = order
        self.req = request
        self.s = s
        self.tz: ZoneInfo = zone(order.timezone)
        self.year = request.requested_at.astimezone(self.tz).year
        self.reasons: list[RuleResult] = []
        self.notes: list[RuleResult] = []
        self.deadlines: list[Deadline] = []
        self.suggested: list[RequestKind] = []
        self.deductions: list[Deduction] = []
        self.process_deadline_set = False
        self.order_failed = False  # a rule about the whole request failed
        self.failed_lines: set[str] = set()  # lines with a rule of their own that failed
        self.requires_return = False
        self.requires_inspection = False
        self.outbound = Payer.none
        self.return_leg = Payer.none
        self.reship = Payer.none
        self.refund_outbound = False  # give back the outbound shipping share
        self.money_amounts: dict[str, Decimal] = {}  # line_id -> money-only ask (price diff)
        self.units_refund = True  # value requested units (False: money-only or nothing)
        self.moves_money = request.kind in _MONEY_BACK_KINDS
        # Resolved request lines with their order line and net paid amount.
        self.pairs: list[tuple[RequestLine, PolicyLine]] = []
        self.net_paid: dict[str, Decimal] = {}

    # ----------------------------------------------------------------- helpers
    def rule(
        self,
        code: str,
        outcome: Outcome,
        zh: str,
        en: str,
        article: Article,
        line_id: str | None = None,
    ) -> None:
        item = RuleResult(code, outcome, zh, en, article.zh, article.en, line_id)
        if outcome is Outcome.info:
            self.notes.append(item)
            return
        self.reasons.append(item)
        if outcome is Outcome.failed:
            if line_id is None:
                self.order_failed = True
            else:
                self.failed_lines.add(line_id)

    def fail(
        self, code: str, zh: str, en: str, article: Article, line_id: str | None = None
    ) -> None:
        self.rule(code, Outcome.failed, zh, en, article, line_id)

    def ok(self, code: str, zh: str, en: str, article: Article, line_id: str | None = None) -> None:
        self.rule(code, Outcome.passed, zh, en, article, line_id)

    def note(
        self, code: str, zh: str, en: str, article: Article, line_id: str | None = None
    ) -> None:
        self.rule(code, Outcome.info, zh, en, article, line_id)

    def suggest(self, *kinds: RequestKind) -> None:
        for kind in kinds:
            if kind not in self.suggested and kind is not self.req.kind:
                self.suggested.append(kind)

    def zd(self, moment: datetime) -> str:
        return zh_day(moment.astimezone(self.tz).date(), self.year)

    def ed(self, moment: datetime) -> str:
        return en_day(moment.astimezone(self.tz).date(), self.year)

    def deadline(self, code: str, period: Period, zh: str, en: str, article: Article) -> None:
        self.deadlines.append(
            Deadline(code, period.last_day, period.closes_at, zh, en, article.zh, article.en)
        )

    def days_period(self, start: datetime, days: int) -> Period:
        holidays = self.s.public_holidays if self.s.extend_deadlines_over_holidays else ()
        return days_after(start, days, self.tz, holidays)

    def received_at(self) -> datetime | None:
        """When the buyer received the goods: the signing time (电子商务法 51). If only the
        buyer's confirmation of receipt is known, that later time is used, which can only
        favour the buyer."""
        order = self.order
        if order.signed_at is not None:
            return order.signed_at
        if order.finished_at is not None:
            self.note(
                "signing_time_from_confirmation",
                "签收时间缺失，按确认收货时间计算期限",
                "The signing time is missing; periods count from the buyer's confirmation",
                art.ECL_51,
            )
            return order.finished_at
        return None

    def stage_of(self, line: PolicyLine) -> str:
        order = self.order
        if order.signed_at is not None or order.status in _SIGNED_STATUSES:
            return SIGNED
        if order.status is OrderStatus.WAIT_SELLER_SEND_GOODS:
            return UNSHIPPED
        if order.status is OrderStatus.SELLER_CONSIGNED_PART and line.shipped is False:
            return UNSHIPPED
        return IN_TRANSIT

    # ------------------------------------------------------------------- main
    def run(self) -> PolicyDecision:
        stage = self.check_request()
        if stage is not None:
            handler = {
                RequestKind.refund_only: self.refund_only,
                RequestKind.return_refund: self.return_refund,
                RequestKind.exchange: self.exchange,
                RequestKind.resend: self.resend,
                RequestKind.repair: self.repair,
                RequestKind.refused_delivery: self.refused_delivery,
            }[self.req.kind]
            handler(stage)
        return self.finish()

    def check_request(self) -> str | None:
        """Order state and request sanity; returns the goods' stage, or None if refused."""
        order, req = self.order, self.req
        if order.status is OrderStatus.WAIT_BUYER_PAY:
            self.fail(
                "order_unpaid",
                "订单尚未付款，无需售后，可直接取消订单",
                "The order is not paid yet; cancel it instead",
                art.ORDER_STATE,
            )
            return None
        if order.status in CLOSED:
            self.fail(
                "order_closed",
                "订单已关闭，不能再申请售后",
                "The order is closed; no after-sales request is possible",
                art.ORDER_STATE,
            )
            return None
        seen: set[str] = set()
        for rline in req.lines:
            line = order.line(rline.line_id)
            if line is None or rline.line_id in seen:
                self.fail(
                    "unknown_line",
                    f"订单中没有商品行 {rline.line_id}，或同一商品行重复申请",
                    f"Line {rline.line_id} is not on the order or is listed twice",
                    art.ORDER_STATE,
                    rline.line_id,
                )
                continue
            seen.add(rline.line_id)
            self.pairs.append((rline, line))
        if len(self.pairs) != len(req.lines):
            return None
        self.net_paid = _net_paid(order)
        unit_based = req.reason is not RequestReason.price_protection
        for rline, line in self.pairs:
            held = line.quantity - line.returned_quantity
            # A resend replaces missing units, which were never held; others act on held units.
            limit = line.quantity if req.kind is RequestKind.resend else held
            # A money-only ask (amount given) may name 0 units; otherwise at least one.
            least = 0 if rline.amount is not None else 1
            if unit_based and not least <= rline.quantity <= limit:
                self.fail(
                    "quantity_not_held",
                    f"「{line.title}」申请数量 {rline.quantity} 件，可申请 {limit} 件",
                    f"{line.title}: {rline.quantity} requested, {limit} available",
                    art.ORDER_STATE,
                    line.line_id,
                )
            if self.moves_money and self.net_paid[line.line_id] - line.refunded_amount <= 0:
                self.fail(
                    "line_fully_refunded",
                    f"「{line.title}」已全额退款",
                    f"{line.title} has already been refunded in full",
                    art.ORDER_STATE,
                    line.line_id,
                )
        if self.order_failed or self.failed_lines:
            return None
        stages = {self.stage_of(line) for _, line in self.pairs}
        if len(stages) > 1:
            self.fail(
                "mixed_stages",
                "所选商品有的已发货、有的未发货，请分开申请",
                "Some of these lines have shipped and some have not; request them separately",
                art.ORDER_STATE,
            )
            return None
        return stages.pop()

    # ------------------------------------------------------------ kind rules
    def refund_only(self, stage: str) -> None:
        reason = self.req.reason
        if reason is RequestReason.price_protection:
            self.price_protection()
            return
        if stage == UNSHIPPED:
            self.ok(
                "refund_before_shipment",
                "订单未发货，可以仅退款，退款后取消发货；买家申请退款后卖家如需继续发货，须征得买家同意",
                "Not shipped yet: a refund without return is allowed and cancels the shipment; "
                "shipping anyway needs the buyer's consent",
                art.TB_27,
            )
            # Shipping goes back only when nothing is left to ship.
            self.refund_outbound = self.completes_order()
            return
        if stage == IN_TRANSIT:
            self.in_transit()
            return
        self.units_refund = True
        if reason is RequestReason.missing_item:
            self.ok(
                "missing_item_refund",
                "买家反映少件/漏发，核实后可就缺少的件数仅退款",
                "Items missing from the parcel: refund the missing units once checked",
                art.ECL_20,
            )
            self.requires_inspection = True
            self.note(
                "check_packing_records",
                "请核对发货称重、打包视频等记录",
                "Check the packing records (weight, packing video)",
                art.ECL_20,
            )
            return
        if reason is RequestReason.not_received:
            self.ok(
                "not_received_check",
                "物流显示已签收但买家称未收到：核实签收凭证后退款或补发，签收以实际签收为准",
                "Tracking says delivered but the buyer did not receive it: verify the proof of "
                "signing, then refund or resend",
                art.ECL_51,
            )
            self.requires_inspection = True
            self.suggest(RequestKind.resend)
            return
        if reason in SELLER_FAULT_REASONS and self.s.allow_refund_only_after_signing_for_fault:
            self.ok(
                "refund_only_shop_policy",
                "本店政策：质量等卖家原因的问题可仅退款，无需退货",
                "Shop policy: for quality and other seller-side problems no return is needed",
                art.SHOP,
            )
            self.requires_inspection = True
            return
        if reason in SELLER_FAULT_REASONS:
            self.fail(
                "refund_only_needs_return",
                "已签收的商品因质量等问题申请退款，需退货退款或换货；也可与买家协商部分退款",
                "Goods already received: a refund for a quality problem needs the goods back "
                "(return and refund, or exchange); a partial refund can be agreed",
                art.CPL_24,
            )
            self.suggest(RequestKind.return_refund, RequestKind.exchange)
            return
        self.fail(
            "refund_only_after_signing",
            "已签收的商品不能仅退款，请申请退货退款",
            "Goods already received cannot be refunded without a return; request a return",
            art.CPL_25,
        )
        self.suggest(RequestKind.return_refund)

    def return_refund(self, stage: str) -> None:
        reason = self.req.reason
        if reason is not RequestReason.no_reason and reason not in SELLER_FAULT_REASONS:
            self.not_applicable()  # nothing to send back for a missing parcel or a price drop
            return
        if stage == UNSHIPPED:
            self.fail(
                "not_shipped_use_refund_only",
                "订单尚未发货，无需退货，请申请仅退款",
                "Not shipped yet: nothing to return; request a refund only",
                art.TB_27,
            )
            self.suggest(RequestKind.refund_only)
            return
        if stage == IN_TRANSIT:
            self.in_transit()
            return
        if reason is RequestReason.no_reason:
            self.requires_return = True
            self.seven_day()
            self.no_reason_return_shipping()
            self.gifts()
            self.refund_timing()
            return
        if reason in SELLER_FAULT_REASONS:
            self.requires_return = True
            self.requires_inspection = True
            self.quality_window(RequestKind.return_refund)
            self.seller_pays(return_leg=True, outbound=True)
            self.gifts()
            self.refund_timing()

    def exchange(self, stage: str) -> None:
        reason = self.req.reason
        self.moves_money = False
        if stage != SIGNED:
            self.fail(
                "exchange_needs_receipt",
                "商品尚未签收，不能换货；未发货可修改规格或退款后重拍，运输中可拒收",
                "Goods not received yet: no exchange; before shipment change the order, "
                "in transit refuse the delivery",
                art.ORDER_STATE,
            )
            self.suggest(
                RequestKind.refund_only if stage == UNSHIPPED else RequestKind.refused_delivery
            )
            return
        self.requires_return = True
        if reason is RequestReason.no_reason:
            if not self.s.no_reason_exchange_allowed:
                self.fail(
                    "no_reason_exchange_not_offered",
                    "本店不提供七天无理由换货（法律规定的是无理由退货），可申请退货退款后重新购买",
                    "This shop does not offer no-reason exchanges (the law grants returns); "
                    "return and buy again",
                    _combine(art.CPL_25, art.SHOP),
                )
                self.suggest(RequestKind.return_refund)
                return
            self.seven_day()
            self.return_leg = Payer.buyer
            self.reship = Payer.buyer
            self.outbound = Payer.seller if self.order.shipping_fee <= 0 else Payer.buyer
            self.note(
                "no_reason_exchange_shipping",
                "七天无理由换货，往返运费由买家承担",
                "A no-reason exchange: the buyer pays all shipping",
                art.TB_54,
            )
            self.process_deadline()
            return
        if reason in SELLER_FAULT_REASONS:
            self.requires_inspection = True
            self.quality_window(RequestKind.exchange)
            self.seller_pays(return_leg=True, reship=True)
            self.process_deadline()
            return
        self.requires_return = False
        self.not_applicable()

    def resend(self, stage: str) -> None:
        reason = self.req.reason
        self.moves_money = False
        if reason not in (
            RequestReason.missing_item,
            RequestReason.not_received,
            RequestReason.damaged_in_transit,
            RequestReason.wrong_item,
        ):
            self.not_applicable()
            return
        if stage == UNSHIPPED:
            self.fail(
                "resend_not_shipped",
                "订单尚未发货，无需补发",
                "The order has not shipped yet; nothing to resend",
                art.ORDER_STATE,
            )
            return
        if stage == IN_TRANSIT:
            self.fail(
                "resend_in_transit",
                "包裹仍在运输中，请先查询物流；确认丢件后再补发",
                "The parcel is still in transit; check tracking and resend once it is lost",
                art.ECL_20,
            )
            return
        self.ok(
            "resend_allowed",
            f"{REQUEST_REASON_LABELS[reason][0]}，由卖家补发，补发运费由卖家承担",
            f"{REQUEST_REASON_LABELS[reason][1]}: the seller resends at its own cost",
            art.ECL_20,
        )
        self.reship = Payer.seller
        if reason is RequestReason.wrong_item:
            self.requires_return = True
            self.return_leg = Payer.seller
        self.requires_inspection = reason in (
            RequestReason.missing_item,
            RequestReason.not_received,
        )

    def repair(self, stage: str) -> None:
        self.moves_money = False
        if self.req.reason is not RequestReason.quality:
            self.not_applicable()
            return
        if stage != SIGNED:
            self.fail(
                "repair_needs_receipt",
                "商品尚未签收，不能申请维修",
                "Goods not received yet; no repair",
                art.ORDER_STATE,
            )
            return
        received = self.received_at()
        self.requires_return = True
        self.requires_inspection = True
        if received is not None and self.s.warranty_months > 0:
            period = months_after(received, self.s.warranty_months, self.tz)
            self.deadline(
                "warranty_until",
                period,
                f"免费维修期至 {zh_day(period.last_day, self.year)} 24:00",
                f"Free repair until {en_day(period.last_day, self.year)} 24:00",
                _combine(art.CPL_24, art.SANBAO),
            )
            if not period.contains(self.req.requested_at):
                self.fail(
                    "warranty_expired",
                    f"签收于 {self.zd(received)}，免费维修期（{self.s.warranty_months} 个月）"
                    f"至 {zh_day(period.last_day, self.year)} 24:00，已过期；可提供付费维修",
                    f"Signed for on {self.ed(received)}; the free repair period "
                    f"({self.s.warranty_months} months) ended "
                    f"{en_day(period.last_day, self.year)} 24:00; paid repair can be offered",
                    _combine(art.CPL_24, art.SANBAO),
                )
                return
        self.ok(
            "repair_allowed",
            "质量问题，在保修期内可维修，往返运费由卖家承担",
            "A quality problem within the warranty: repair, the seller pays the shipping",
            art.CPL_24,
        )
        self.seller_pays(return_leg=True, reship=True)
        self.durable_note(received)

    def refused_delivery(self, stage: str) -> None:
        reason = self.req.reason
        if stage == SIGNED:
            self.fail(
                "refused_after_signing",
                "商品已签收，不能拒收，请申请退货退款",
                "Already signed for; delivery can no longer be refused — request a return",
                art.ECL_51,
            )
            self.suggest(RequestKind.return_refund)
            return
        if stage == UNSHIPPED:
            self.fail(
                "refused_not_shipped",
                "订单尚未发货，请申请仅退款",
                "Not shipped yet; request a refund only",
                art.TB_27,
            )
            self.suggest(RequestKind.refund_only)
            return
        if reason is not RequestReason.no_reason and reason not in SELLER_FAULT_REASONS:
            self.not_applicable()
            return
        self.requires_return = True
        self.requires_inspection = True
        if reason is RequestReason.no_reason:
            self.ok(
                "refused_delivery_allowed",
                "商品尚未签收，买家可以拒收；快递退回、卖家收到商品后退款",
                "Not signed for yet: the buyer may refuse the delivery; the refund follows once "
                "the goods are back with the seller",
                art.ECL_51,
            )
            self.exclusions_only()
            self.in_transit_no_reason_shipping(refused=True)
        else:
            self.ok(
                "refused_seller_fault",
                f"因{REQUEST_REASON_LABELS[reason][0]}拒收，运费由卖家承担",
                f"Refused because of {REQUEST_REASON_LABELS[reason][1].lower()}: "
                "the seller pays the shipping",
                _combine(art.CPL_24, art.ECL_20),
            )
            self.seller_pays(return_leg=True, outbound=True)
        self.gifts()
        self.refund_timing()

    # ---------------------------------------------------------- shared rules
    def not_applicable(self) -> None:
        label = REQUEST_REASON_LABELS[self.req.reason]
        kind = REQUEST_KIND_LABELS[self.req.kind]
        self.fail(
            "kind_not_applicable",
            f"“{label[0]}”不适用{kind[0]}",
            f"{kind[1]} does not apply to “{label[1].lower()}”",
            art.ORDER_STATE,
        )
        reason = self.req.reason
        if reason in (RequestReason.missing_item, RequestReason.not_received):
            self.suggest(RequestKind.refund_only, RequestKind.resend)
        elif reason is RequestReason.price_protection:
            self.suggest(RequestKind.refund_only)
        elif reason is RequestReason.no_reason:
            self.suggest(RequestKind.return_refund)
        else:
            self.suggest(RequestKind.return_refund, RequestKind.exchange)

    def in_transit(self) -> None:
        """Refund asked after shipment, before signing (Taobao art. 23): intercept the parcel."""
        if self.req.reason in (RequestReason.missing_item, RequestReason.not_received):
            self.fail(
                "still_in_transit",
                "包裹仍在运输中，请先查询物流；如需退款可拦截或拒收",
                "The parcel is still in transit; check tracking, or intercept or refuse it",
                art.ECL_20,
            )
            self.suggest(RequestKind.refused_delivery)
            return
        if not self.s.intercept_before_signing:
            self.fail(
                "shipped_not_signed",
                "商品已发货，请在签收时拒收，或签收后申请退货退款",
                "Already shipped: refuse the delivery, or request a return after receipt",
                art.TB_23,
            )
            self.suggest(RequestKind.refused_delivery, RequestKind.return_refund)
            return
        self.ok(
            "intercept_advised",
            "商品已发货但未签收：请联系快递拦截退回，或由买家拒收；卖家收到退回商品后退款",
            "Shipped but not signed for: ask the carrier to intercept the parcel, or the buyer "
            "refuses it; refund once the goods are back",
            art.TB_23,
        )
        self.requires_return = True
        self.requires_inspection = True
        if self.req.reason is RequestReason.no_reason:
            self.exclusions_only()
            self.in_transit_no_reason_shipping(refused=False)
        else:
            self.seller_pays(return_leg=True, outbound=True)
        self.gifts()
        self.refund_timing()

    def in_transit_no_reason_shipping(self, *, refused: bool) -> None:
        payer = self.s.refused_delivery_return_leg_payer
        if self.req.seller_agreed_return_shipping:
            payer = Payer.seller
        self.return_leg = payer
        if self.order.shipping_fee > 0:
            self.outbound = Payer.buyer
            if self.s.refund_outbound_shipping_on_no_reason_return:
                self.outbound = Payer.seller
                self.refund_outbound = True
        else:
            self.outbound = Payer.seller
        who = "买家" if payer is Payer.buyer else "卖家"
        what = "拒收" if refused else "拦截"
        self.note(
            "refused_delivery_shipping",
            f"无理由{what}：退回运费由{who}承担（本店设置；法律未明确规定，按无理由退货的运费规则处理）",
            f"No-reason {'refusal' if refused else 'interception'}: the return leg is paid by "
            f"the {payer.value} (shop setting; the law is silent, read like a no-reason return)",
            _combine(art.M_18, art.SHOP),
        )

    def exclusions_only(self) -> None:
        """Before receipt, a no-reason refusal still cannot send back excluded goods."""
        for _, line in self.pairs:
            self.exclusion(line)

    def exclusion(self, line: PolicyLine) -> None:
        excl = line.return_exclusion
        if excl is None:
            return
        label = EXCLUSION_LABELS[excl]
        if excl in self.s.waived_exclusions:
            self.ok(
                "exclusion_waived",
                f"「{line.title}」属于{label[0]}，本店自愿仍接受无理由退货",
                f"{line.title} is {label[1]}, but the shop accepts no-reason returns anyway",
                art.SHOP,
                line.line_id,
            )
        elif excl in ALWAYS_EXCLUDED:
            self.fail(
                "excluded_always",
                f"「{line.title}」属于{label[0]}，依法不适用七天无理由退货",
                f"{line.title} is {label[1]}: excluded from 7-day no-reason returns by law",
                art.M_6,
                line.line_id,
            )
        elif excl in CONFIRM_EXCLUDED and line.exclusion_confirmed:
            self.fail(
                "excluded_confirmed",
                f"「{line.title}」属于{label[0]}，买家购买时已确认不适用七天无理由退货",
                f"{line.title} is {label[1]} and the buyer confirmed at purchase that 7-day "
                "no-reason returns do not apply",
                art.M_7,
                line.line_id,
            )
        elif excl in CONFIRM_EXCLUDED:
            self.ok(
                "exclusion_not_confirmed",
                f"「{line.title}」属于{label[0]}，但买家购买时未单独确认不适用七天无理由退货，"
                "卖家不得拒绝",
                f"{line.title} is {label[1]}, but the buyer did not confirm at purchase that "
                "7-day returns do not apply, so the seller cannot refuse",
                art.M_20,
                line.line_id,
            )

    def seven_day(self) -> None:
        """7-day no-reason return or exchange: exclusions, the clock, condition."""
        received = self.received_at()
        if received is None:
            self.ok(
                "signing_time_unknown",
                "签收时间未知，无法认定已超过无理由退货期，按期限内处理",
                "The signing time is unknown, so the return period cannot be shown to have "
                "passed; treated as in time",
                art.M_10,
            )
            self.requires_inspection = True
        groups: dict[int, list[PolicyLine]] = {}
        for _, line in self.pairs:
            self.exclusion(line)
            days = self.s.no_reason_days_for(self.order.customer_tier, line.category)
            groups.setdefault(days, []).append(line)
        if received is not None:
            for days, lines in groups.items():
                self.window(received, days, lines if len(groups) > 1 else None)
        for _, line in self.pairs:
            self.condition(line)
        self.process_deadline()
        self.note(
            "return_address",
            "卖家应及时向买家提供真实、准确的退货地址、联系人和电话",
            "The seller must promptly give the buyer a real return address, contact and phone",
            art.M_11,
        )

    def window(self, received: datetime, days: int, lines: list[PolicyLine] | None) -> None:
        period = self.days_period(received, days)
        base = self.s.no_reason_return_days
        article = art.M_10
        extra_zh = extra_en = ""
        if days > 7:
            article = _combine(art.M_10, art.SHOP)
            tier = self.order.customer_tier.value
            tier_days = self.s.tier_no_reason_return_days.get(self.order.customer_tier)
            if tier_days == days and days > base:
                extra_zh = f"（本店{_TIER_ZH.get(tier, tier)}延长至 {days} 天）"
                extra_en = f" (extended to {days} days for {tier.upper()} customers)"
            else:
                extra_zh = f"（本店政策延长至 {days} 天）"
                extra_en = f" (extended to {days} days by shop policy)"
        days_zh = "七天" if days == 7 else f"{days} 天"
        who_zh = "".join(f"「{line.title}」" for line in lines) if lines else ""
        who_en = ", ".join(line.title for line in lines) + ": " if lines else ""
        last_zh = zh_day(period.last_day, self.year)
        last_en = en_day(period.last_day, self.year)
        self.deadline(
            "no_reason_return_by",
            period,
            f"{who_zh}无理由退货期至 {last_zh} 24:00{extra_zh}",
            f"{who_en}No-reason return period ends {last_en} 24:00{extra_en}",
            article,
        )
        line_id = lines[0].line_id if lines and len(lines) == 1 else None
        if period.contains(self.req.requested_at):
            self.ok(
                "no_reason_window",
                f"{who_zh}签收于 {self.zd(received)}，{days_zh}无理由退货期至 {last_zh} 24:00"
                f"{extra_zh}，申请于 {self.zd(self.req.requested_at)}，在期限内",
                f"{who_en}Signed for on {self.ed(received)}; the {days}-day no-reason return "
                f"period runs to {last_en} 24:00{extra_en}; the request on "
                f"{self.ed(self.req.requested_at)} is in time",
                article,
                line_id,
            )
        else:
            self.fail(
                "no_reason_window_expired",
                f"{who_zh}签收于 {self.zd(received)}，{days_zh}无理由退货期至 {last_zh} 24:00"
                f"{extra_zh}，已超期",
                f"{who_en}Signed for on {self.ed(received)}; the {days}-day no-reason return "
                f"period ended {last_en} 24:00{extra_en}; the request is too late",
                article,
                line_id,
            )
            self.suggest_quality_paths()

    def suggest_quality_paths(self) -> None:
        self.note(
            "quality_still_possible",
            "如商品存在质量问题，可按质量问题申请退换货或维修",
            "If the goods are faulty, a quality return, exchange or repair is still possible",
            art.CPL_24,
        )

    def condition(self, line: PolicyLine) -> None:
        report = self.req.condition
        if report is None:
            self.requires_inspection = True
            self.note(
                "intact_required",
                "退回商品应当完好：商品本身、配件、商标标识齐全；为查验拆封或合理调试不影响退货",
                "Returned goods must be intact: item, accessories and tags present; opening to "
                "inspect or reasonable testing is allowed",
                art.M_8,
                line.line_id,
            )
            return
        if not report.inspected:
            self.requires_inspection = True
        klass = CATEGORY_CONDITION_CLASS[line.category]
        decisive = GENERAL_NOT_INTACT | CLASS_NOT_INTACT[klass]
        bad = sorted(report.issues & decisive)
        category = CATEGORY_LABELS[line.category]
        if bad:
            zh = "、".join(CONDITION_ISSUE_LABELS[i][0] for i in bad)
            en = ", ".join(CONDITION_ISSUE_LABELS[i][1] for i in bad)
            category_specific = any(i not in GENERAL_NOT_INTACT for i in bad)
            self.fail(
                "not_intact",
                f"「{line.title}」{zh}，属于{category[0]}商品不完好的情形，不适用无理由退货",
                f"{line.title}: {en} — {category[1]} in this state are not intact, so no "
                "no-reason return",
                art.M_9 if category_specific else art.M_8,
                line.line_id,
            )
            return
        allowed = sorted(report.issues & ALLOWED_HANDLING)
        irrelevant = sorted(report.issues - ALLOWED_HANDLING - decisive)
        extra_zh, extra_en = "", ""
        if allowed:
            extra_zh += "；" + "、".join(CONDITION_ISSUE_LABELS[i][0] for i in allowed)
            extra_zh += "不影响商品完好"
            extra_en += "; " + ", ".join(CONDITION_ISSUE_LABELS[i][1] for i in allowed)
            extra_en += " does not make it not intact"
        if irrelevant:
            extra_zh += "；" + "、".join(CONDITION_ISSUE_LABELS[i][0] for i in irrelevant)
            extra_zh += f"不属于{category[0]}商品不完好的情形"
            extra_en += "; " + ", ".join(CONDITION_ISSUE_LABELS[i][1] for i in irrelevant)
            extra_en += f" is not a ground for {category[1]}"
        self.ok(
            "intact",
            f"「{line.title}」商品完好{extra_zh}",
            f"{line.title} is intact{extra_en}",
            art.M_8,
            line.line_id,
        )

    def gifts(self) -> None:
        order = self.order
        if not order.gifts:
            return
        requested = {line.line_id for _, line in self.pairs}
        completes = self.completes_order()
        affected = [
            g for g in order.gifts if (g.line_id in requested) or (g.line_id is None and completes)
        ]
        if not affected:
            return
        names = "、".join(f"「{g.title}」" for g in affected)
        names_en = ", ".join(g.title for g in affected)
        value = sum((g.stated_value for g in affected), ZERO)
        report = self.req.condition
        returned = report.gifts_returned if report is not None else None
        if returned is True:
            self.ok(
                "gifts_returned",
                f"赠品{names}已随商品一并退回",
                f"The gifts ({names_en}) come back with the goods",
                art.M_12,
            )
        elif returned is False:
            self.deductions.append(
                Deduction(
                    "gift_not_returned",
                    value,
                    f"赠品{names}未退回，按标明价格扣除 ¥{value}",
                    f"Gifts not returned ({names_en}): their stated price ¥{value} is deducted",
                )
            )
            self.note(
                "gift_deducted",
                f"赠品{names}未退回，按赠品标明价格 ¥{value} 从退款中扣除",
                f"The gifts ({names_en}) are not returned; their stated price ¥{value} is "
                "deducted from the refund",
                art.M_12,
            )
        else:
            self.note(
                "gifts_must_return",
                f"赠品{names}（含积分、优惠券）需随商品一并退回，否则按标明价格 ¥{value} 扣除",
                f"The gifts ({names_en}, incl. points and coupons) must come back with the "
                f"goods, or their stated price ¥{value} is deducted",
                art.M_12,
            )

    def no_reason_return_shipping(self) -> None:
        order, s = self.order, self.s
        if s.seller_pays_no_reason_return_shipping or self.req.seller_agreed_return_shipping:
            self.return_leg = Payer.seller
            self.ok(
                "return_shipping_seller_agreed",
                "退回运费由卖家承担（双方另有约定）",
                "The seller pays the return leg (agreed otherwise)",
                art.M_18,
            )
        else:
            self.return_leg = Payer.buyer
            self.ok(
                "return_shipping_buyer",
                "无理由退货，退回运费由买家承担",
                "A no-reason return: the buyer pays the return leg",
                art.M_18,
            )
        if order.shipping_fee > 0:
            if s.refund_outbound_shipping_on_no_reason_return:
                self.outbound = Payer.seller
                self.refund_outbound = True
                self.note(
                    "outbound_refunded_shop_policy",
                    "本店政策：退还买家已付的发货运费",
                    "Shop policy: the outbound shipping the buyer paid is refunded",
                    art.SHOP,
                )
            else:
                self.outbound = Payer.buyer
                self.note(
                    "outbound_kept_not_free_shipping",
                    "非包邮商品无理由退货，买家承担全部运费，"
                    f"已付发货运费 ¥{order.shipping_fee} 不退",
                    f"Not a free-shipping item: the buyer pays all shipping; the ¥"
                    f"{order.shipping_fee} outbound shipping is not refunded",
                    art.TB_53,
                )
            return
        self.outbound = Payer.seller
        threshold = order.free_shipping_threshold
        if threshold is None or not s.deduct_outbound_on_threshold_break:
            self.note(
                "free_shipping_return_leg_only",
                "包邮商品无理由退货，买家只承担退回运费",
                "A free-shipping item: the buyer pays only the return leg",
                art.TB_53,
            )
            return
        kept = self.kept_goods_value()
        completes = self.completes_order()
        if kept >= threshold or (completes and not s.threshold_break_on_full_return):
            self.note(
                "free_shipping_threshold_kept",
                f"退货后剩余商品金额 ¥{kept} 仍满足满 ¥{threshold} 包邮，不扣发货运费",
                f"The goods kept (¥{kept}) still reach the ¥{threshold} free-shipping "
                "threshold; no outbound shipping is deducted",
                art.M_18,
            )
            return
        fee = order.standard_shipping_fee
        if fee is None:
            fee = s.default_standard_shipping_fee
        if fee is None:
            self.note(
                "threshold_broken_fee_unknown",
                f"退货后不再满足满 ¥{threshold} 包邮，卖家可扣除发货运费，但原运费金额未知，未扣除",
                f"The return breaks the ¥{threshold} free-shipping threshold; the seller may "
                "deduct the outbound shipping, but its amount is unknown, so nothing is deducted",
                art.M_18,
            )
            return
        left = fee - order.outbound_shipping_deducted
        if left <= 0:
            return
        self.outbound = Payer.buyer
        self.deductions.append(
            Deduction(
                "outbound_shipping_threshold",
                left,
                f"退货后不满足满 ¥{threshold} 包邮，扣除发货运费 ¥{left}",
                f"Free-shipping threshold ¥{threshold} no longer met: outbound shipping ¥{left} "
                "deducted",
            )
        )
        self.note(
            "threshold_broken_deduct",
            f"退货后剩余商品金额 ¥{kept}，不再满足满 ¥{threshold} 包邮，"
            f"从退款中扣除发货运费 ¥{left}",
            f"The goods kept (¥{kept}) no longer reach the ¥{threshold} free-shipping "
            f"threshold: the outbound shipping ¥{left} is deducted from the refund",
            art.M_18,
        )

    def seller_pays(
        self, *, return_leg: bool = False, reship: bool = False, outbound: bool = False
    ) -> None:
        if return_leg:
            self.return_leg = Payer.seller
        if reship:
            self.reship = Payer.seller
        if outbound:
            self.outbound = Payer.seller
            self.refund_outbound = self.order.shipping_fee > 0
        article = art.CPL_24
        if self.req.reason is RequestReason.damaged_in_transit:
            article = _combine(art.CPL_24, art.ECL_20)
        self.ok(
            "seller_pays_shipping",
            "卖家原因（质量问题、错发、与描述不符或运输破损），运费由卖家承担",
            "The seller is at fault (quality, wrong item, not as described or transit "
            "damage): the seller pays the shipping",
            article,
        )

    def quality_window(self, kind: RequestKind) -> None:
        received = self.received_at()
        reason = REQUEST_REASON_LABELS[self.req.reason]
        if received is None:
            self.ok(
                "signing_time_unknown",
                "签收时间未知，无法认定已超过质量问题退换货期，按期限内处理",
                "The signing time is unknown, so the quality period cannot be shown to have "
                "passed; treated as in time",
                art.CPL_24,
            )
            return
        if kind is RequestKind.return_refund:
            days, code, what_zh, what_en = (
                self.s.quality_return_days,
                "quality_return_by",
                "退货",
                "return",
            )
            article = _combine(art.CPL_24, art.CIVIL_201)
        else:
            days, code, what_zh, what_en = (
                self.s.quality_exchange_days,
                "quality_exchange_by",
                "换货",
                "exchange",
            )
            article = _combine(art.SANBAO, art.CPL_24)
        period = self.days_period(received, days)
        last_zh = zh_day(period.last_day, self.year)
        last_en = en_day(period.last_day, self.year)
        self.deadline(
            code,
            period,
            f"{reason[0]}{what_zh}期至 {last_zh} 24:00",
            f"{reason[1]}: {what_en} period ends {last_en} 24:00",
            article,
        )
        if period.contains(self.req.requested_at):
            self.ok(
                f"quality_{what_en}_window",
                f"{reason[0]}：签收于 {self.zd(received)}，"
                f"{days} 日内可{what_zh}（至 {last_zh} 24:00），"
                "在期限内",
                f"{reason[1]}: signed for on {self.ed(received)}; {what_en} within {days} days "
                f"(to {last_en} 24:00) — in time",
                article,
            )
        else:
            self.fail(
                f"quality_{what_en}_window_expired",
                f"{reason[0]}：签收于 {self.zd(received)}，"
                f"{days} 日{what_zh}期至 {last_zh} 24:00，已超期",
                f"{reason[1]}: signed for on {self.ed(received)}; the {days}-day {what_en} "
                f"period ended {last_en} 24:00",
                article,
            )
            if kind is RequestKind.return_refund:
                self.suggest(RequestKind.exchange, RequestKind.repair)
                self.note(
                    "quality_rescission_possible",
                    "七日后如符合法定解除合同条件，买家仍可退货；否则可要求更换、修理，请人工判断",
                    "After 7 days the buyer may still return if the contract can be rescinded "
                    "by law; otherwise exchange or repair — an agent should judge",
                    art.CPL_24,
                )
            else:
                self.suggest(RequestKind.repair)
                self.note(
                    "quality_exchange_or_repair",
                    "超过换货期的，买家仍可要求经营者履行更换、修理等义务，请人工判断",
                    "Past the exchange period the buyer may still ask for exchange or repair; "
                    "an agent should judge",
                    art.CPL_24,
                )
        self.durable_note(received)

    def durable_note(self, received: datetime | None) -> None:
        if received is None:
            return
        durable = [line for _, line in self.pairs if line.category in self.s.durable_categories]
        if not durable:
            return
        months = self.s.durable_burden_of_proof_months
        period = months_after(received, months, self.tz)
        last_zh = zh_day(period.last_day, self.year)
        last_en = en_day(period.last_day, self.year)
        self.deadline(
            "burden_of_proof_until",
            period,
            f"耐用商品瑕疵举证责任由经营者承担至 {last_zh} 24:00",
            f"The seller bears the burden of proof for defects until {last_en} 24:00",
            art.CPL_23,
        )
        if period.contains(self.req.requested_at):
            self.note(
                "durable_burden_on_seller",
                f"耐用商品自签收起 {months} 个月内发现瑕疵（至 {last_zh}），"
                "由经营者承担有关瑕疵的举证责任，"
                "不得以买家无法证明为由拒绝",
                f"A durable good with a defect found within {months} months of receipt (to "
                f"{last_en}): the seller must prove there is no defect",
                art.CPL_23,
            )

    def refund_timing(self) -> None:
        received = self.req.returned_goods_received_at
        days = self.s.refund_due_days_after_receipt
        if received is not None:
            period = self.days_period(received, days)
            last_zh = zh_day(period.last_day, self.year)
            last_en = en_day(period.last_day, self.year)
            self.deadline(
                "refund_due_by",
                period,
                f"卖家于 {self.zd(received)} 收到退货，应在 {last_zh} 24:00 前退款",
                f"Goods received back on {self.ed(received)}: refund by {last_en} 24:00",
                art.M_13,
            )
        else:
            self.note(
                "refund_due_after_receipt",
                f"卖家收到退回商品后 {days} 日内退款",
                f"Refund within {days} days of receiving the returned goods",
                art.M_13,
            )
        self.process_deadline()

    def process_deadline(self) -> None:
        if self.process_deadline_set:
            return
        self.process_deadline_set = True
        period = self.days_period(self.req.requested_at, self.s.process_request_days)
        last_zh = zh_day(period.last_day, self.year)
        last_en = en_day(period.last_day, self.year)
        self.deadline(
            "process_request_by",
            period,
            f"应在 {last_zh} 24:00 前处理该申请",
            f"Process the request by {last_en} 24:00",
            art.M_31,
        )

    def price_protection(self) -> None:
        days = self.s.price_protection_days
        self.units_refund = False
        if days <= 0:
            self.fail(
                "price_protection_not_offered",
                "本店不提供价格保护",
                "This shop does not offer price protection",
                art.SHOP_PRICE,
            )
            return
        bought = self.order.paid_at or self.order.placed_at
        period = self.days_period(bought, days)
        last_zh = zh_day(period.last_day, self.year)
        last_en = en_day(period.last_day, self.year)
        self.deadline(
            "price_protection_until",
            period,
            f"价保期至 {last_zh} 24:00",
            f"Price protection until {last_en} 24:00",
            art.SHOP_PRICE,
        )
        if not period.contains(self.req.requested_at):
            self.fail(
                "price_protection_expired",
                f"付款于 {self.zd(bought)}，{days} 天价保期至 {last_zh} 24:00，已超期",
                f"Paid on {self.ed(bought)}; the {days}-day price protection ended {last_en} 24:00",
                art.SHOP_PRICE,
            )
            return
        for rline, line in self.pairs:
            held = line.quantity - line.returned_quantity
            if rline.current_unit_price is None:
                self.fail(
                    "current_price_missing",
                    f"「{line.title}」缺少现价，无法计算差价",
                    f"{line.title}: today's price is missing",
                    art.SHOP_PRICE,
                    line.line_id,
                )
                continue
            paid_unit = self.net_paid[line.line_id] / line.quantity
            current = rline.current_unit_price
            units = min(rline.quantity, held) if rline.quantity else held
            diff = refunds.money((paid_unit - current) * units) if paid_unit > current else ZERO
            if diff <= 0 or units <= 0:
                self.fail(
                    "no_price_drop",
                    f"「{line.title}」现价 ¥{current} 不低于实付单价 "
                    f"¥{refunds.money(paid_unit)}，无差价可退",
                    f"{line.title}: today's price ¥{current} is not below the ¥"
                    f"{refunds.money(paid_unit)} paid per unit; no difference to refund",
                    art.SHOP_PRICE,
                    line.line_id,
                )
                continue
            self.money_amounts[line.line_id] = diff
            self.ok(
                "price_dropped",
                f"「{line.title}」付款后 {days} 天内降价：实付单价 ¥{refunds.money(paid_unit)}，"
                f"现价 ¥{current}，{units} 件退差价 ¥{diff}",
                f"{line.title}: price dropped within {days} days of payment: paid ¥"
                f"{refunds.money(paid_unit)} per unit, now ¥{current}; {units} units, "
                f"difference ¥{diff}",
                art.SHOP_PRICE,
                line.line_id,
            )

    # ---------------------------------------------------------------- money
    def held_after(self, line: PolicyLine, rline: RequestLine | None) -> int:
        held = line.quantity - line.returned_quantity
        if rline is not None and self.units_refund:
            held -= min(rline.quantity, held)
        return held

    def completes_order(self) -> bool:
        requested = {line.line_id: rline for rline, line in self.pairs}
        return all(
            self.held_after(line, requested.get(line.line_id)) == 0 for line in self.order.lines
        )

    def kept_goods_value(self) -> Decimal:
        requested = {line.line_id: rline for rline, line in self.pairs}
        kept = ZERO
        for line in self.order.lines:
            remaining = self.net_paid[line.line_id] - line.refunded_amount
            if remaining <= 0:
                continue
            rline = requested.get(line.line_id)
            if rline is not None:
                held = line.quantity - line.returned_quantity
                remaining -= refunds.units_refund(remaining, held, rline.quantity)
            kept += remaining
        return kept

    def line_refunds(self) -> list[LineRefund]:
        out = []
        for rline, line in self.pairs:
            amount = self.money_amounts.get(line.line_id, rline.amount)
            out.append(
                LineRefund(
                    line_id=line.line_id,
                    paid=self.net_paid[line.line_id],
                    quantity=line.quantity,
                    refunded=line.refunded_amount,
                    returned_quantity=line.returned_quantity,
                    units=rline.quantity if self.units_refund else 0,
                    amount=amount,
                )
            )
        return out

    def finish(self) -> PolicyDecision:
        order, req = self.order, self.req
        allowed = not (self.order_failed or self.failed_lines)
        shipping_refund = ZERO
        breakdown = None
        if self.moves_money and self.pairs:
            lines = self.line_refunds()
            shipping_left = order.shipping_fee - order.shipping_refunded
            if self.refund_outbound:
                goods_total = sum(self.net_paid.values(), ZERO)
                returned_value = sum((refunds.line_goods_refund(line) for line in lines), ZERO)
                shipping_refund = refunds.shipping_share(
                    order.shipping_fee,
                    order.shipping_refunded,
                    goods_total,
                    returned_value,
                    completes_order=self.completes_order(),
                )
            breakdown = refunds.refundable_amount(
                order_paid=order.paid_amount,
                order_refunded=order.refunded_amount,
                lines=lines,
                shipping_refund=shipping_refund,
                shipping_available=shipping_left if shipping_left > 0 else ZERO,
                deductions=self.deductions,
            )
            asked = [r.amount for r, _ in self.pairs if r.amount is not None]
            requested_total = sum(asked, ZERO)
            if asked and requested_total > breakdown.total:
                self.note(
                    "amount_capped",
                    f"申请金额 ¥{requested_total} 超过可退金额，按 ¥{breakdown.total} 处理",
                    f"The ¥{requested_total} asked exceeds what can be refunded; "
                    f"¥{breakdown.total} applies",
                    art.M_16,
                )
            if breakdown.total > 0:
                self.note(
                    "refund_original_method",
                    "退款按原支付方式原路退回",
                    "The refund goes back to the original payment method",
                    art.M_14,
                )
                if order.order_discount > 0 or any(
                    self.net_paid[line.line_id] < line.unit_price * line.quantity
                    for _, line in self.pairs
                ):
                    self.note(
                        "repriced_at_purchase",
                        "按实际支付价格退款，满减、组合等订单优惠按金额比例分摊到各商品",
                        "Refunded at the price actually paid: order discounts are spread over "
                        "the lines in proportion",
                        art.M_16,
                    )
        self.platform_window_note()
        refund_if_allowed = breakdown.total if breakdown else ZERO
        line_money = dict(breakdown.lines) if breakdown else {}
        # A line is allowed when no order-wide rule and none of its own rules failed, so an
        # agent sees which lines of a refused request could go ahead on their own.
        line_decisions = []
        for rline, line in self.pairs:
            ok = not self.order_failed and line.line_id not in self.failed_lines
            money = line_money.get(line.line_id, ZERO) if ok else ZERO
            line_decisions.append(LineDecision(line.line_id, ok, rline.quantity, money))
        return PolicyDecision(
            allowed=allowed,
            kind=req.kind,
            reason=req.reason,
            reasons=tuple(self.reasons),
            notes=tuple(self.notes),
            deadlines=tuple(self.deadlines),
            shipping=ShippingPlan(
                outbound=self.outbound,
                return_leg=self.return_leg,
                reship=self.reship,
                outbound_refund=breakdown.shipping if breakdown else ZERO,
                outbound_deduction=sum(
                    (d.amount for d in self.deductions if d.code == "outbound_shipping_threshold"),
                    ZERO,
                ),
            ),
            max_refundable_amount=refund_if_allowed if allowed else ZERO,
            refund_if_allowed=refund_if_allowed,
            refund_cap=breakdown.cap if breakdown else ZERO,
            requires_return=self.requires_return,
            requires_inspection=self.requires_inspection,
            lines=tuple(line_decisions),
            deductions=tuple(self.deductions),
            suggested_kinds=tuple(self.suggested),
        )

    def platform_window_note(self) -> None:
        finished = self.order.finished_at
        days = self.s.aftersales_entry_days_after_finish
        if finished is None or days <= 0:
            return
        if self.req.requested_at - finished < timedelta(days=days):
            return  # the period closes later than this, whatever the time zone
        period = self.days_period(finished, days)
        if not period.contains(self.req.requested_at):
            self.note(
                "platform_entry_closed",
                f"交易成功已超过 {days} 天，平台售后入口可能已关闭，"
                "需在客服系统内处理；法定权利不受影响",
                f"More than {days} days since completion: the platform's after-sales entry may "
                "be closed, handle it here; statutory rights are unaffected",
                art.ORDER_STATE,
            )


def _net_paid(order: PolicyOrder) -> dict[str, Decimal]:
    """Each line's paid amount after spreading any order-level discount (办法 16–17)."""
    if order.order_discount <= 0:
        return {line.line_id: line.paid_amount for line in order.lines}
    amounts = [line.paid_amount for line in order.lines]
    discount = order.order_discount
    total = sum(amounts, ZERO)
    if discount > total:
        discount = total
    net = refunds.net_line_amounts(amounts, discount)
    return {line.line_id: value for line, value in zip(order.lines, net, strict=True)}
