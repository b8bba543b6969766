"""Order-aware actions of the bot, done through the store connector under the shop's rules.

Every change goes through `kefu.store.connector` (which checks the order-state rules of
DOMAIN.md §2 and audits with the bot as actor); a change of address or a cancellation is done
only after an explicit "确认" turn. Return and exchange requests are decided by the after-sales
policy engine and explained in plain Chinese; an eligible request becomes an after-sales case
(`kefu.aftersales.service.create_case`, source `bot`); if the case cannot be opened it is
handed to an agent with the decision in the handover note.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.aftersales.enums import REQUEST_KIND_LABELS, RequestKind, RequestReason
from kefu.aftersales.policy import (
    AftersalesRequest,
    PolicyDecision,
    RequestLine,
    evaluate_request,
    policy_order_from_store,
    settings_for_store,
)
from kefu.bot import orders
from kefu.bot.context import Turn
from kefu.bot.models import BotTurn
from kefu.bot.replies import HUMAN_CHOICE, TurnResult
from kefu.core.errors import KefuError
from kefu.store.connector import ActionRefused, NewAddress, get_connector
from kefu.store.enums import CLOSED, NOT_SHIPPED, OrderStatus
from kefu.store.models import Order, Product

ORDER_INTENTS = frozenset(
    {
        "order_status",
        "change_address",
        "cancel_order",
        "urge_shipping",
        "return_request",
        "exchange_request",
        "refund_status",
    }
)
MAX_IDENTIFY_ATTEMPTS = 3
URGE_REPEAT_WINDOW = timedelta(hours=24)
CONFIRM_CHOICES = [{"label": "确认", "text": "确认"}, {"label": "不用了", "text": "不用了"}]

_QUALITY = re.compile(
    r"质量|坏了|破了|破损|瑕疵|开线|脱线|掉色|起球|有问题|次品|故障|不能用|用不了"
)
_WRONG = re.compile(r"发错|错发|不是我买的|颜色不对|尺码不对|型号不对")
_MISSING = re.compile(r"少件|漏发|少了|缺件")
_NOT_AS_DESCRIBED = re.compile(r"和描述不符|与描述不符|不符|色差|图片不一样|货不对板")


# --- which order -----------------------------------------------------------------------


async def resolve_order(turn: Turn, intent: str) -> Order | TurnResult:
    """The order `intent` is about, or a reply asking the customer for it."""
    state = turn.state
    order_no = turn.slots.get("order_no")
    if order_no:
        order = await orders.find_order(turn.session, turn.store.id, order_no)
        if order is None:
            return TurnResult(outcome="asked").say(
                f"没有找到订单号 {order_no} 的订单，请核对后再发一次"
                "（订单号可以在“我的订单”里复制）。"
            )
        if orders.may_see(state, turn.signed_customer_id, order):
            state.order_id = order.id
            return order
        tail = turn.slots.get("phone_tail")
        if tail:
            return await verify(turn, intent, order, tail, attempts=0)
        turn.set_pending("identify", intent=intent, order_no=order_no, text=turn.text)
        return TurnResult(outcome="asked").say(
            "为了保护您的隐私，请告诉我这个订单收货手机号的后四位（尾号）。"
        )
    if state.order_id is not None:
        order = await turn.session.get(Order, state.order_id)
        if order is not None and orders.may_see(state, turn.signed_customer_id, order):
            return order
    if turn.signed_customer_id is not None:
        recent = await orders.recent_orders(turn.session, turn.store.id, turn.signed_customer_id)
        if len(recent) == 1:
            state.order_id = recent[0].id
            return recent[0]
        if recent:
            turn.set_pending("order", intent=intent, text=turn.text)
            choices = [await orders.order_choice(turn.session, o) for o in recent]
            return TurnResult(outcome="asked").say(
                "请问是哪一个订单？点选或直接发送订单号：", choices
            )
        return TurnResult(outcome="asked").say(
            "没有查到您账号下的订单。如果是用其他账号下的单，请发送订单号和收货手机号后四位。"
        )
    turn.set_pending("identify", intent=intent, text=turn.text)
    return TurnResult(outcome="asked").say(
        "查询订单前需要先核对身份：请发送订单号和收货手机号后四位，"
        "例如“订单号 202311150001 尾号 5678”。"
    )


async def verify(
    turn: Turn, intent: str, order: Order, tail: str, *, attempts: int
) -> Order | TurnResult:
    """Order number + phone tail: the customer proves the order is theirs."""
    if orders.tail_matches(order, tail):
        state = turn.state
        state.verified_order_ids = sorted({*(state.verified_order_ids or []), order.id})
        if state.customer_id is None:
            state.customer_id = order.customer_id
        state.order_id = order.id
        return order
    attempts += 1
    if attempts >= MAX_IDENTIFY_ATTEMPTS:
        turn.clear_pending()
        return TurnResult(outcome="handoff", handoff_reason="identify_failed")
    turn.set_pending(
        "identify", intent=intent, order_no=order.order_no, attempts=attempts, text=turn.text
    )
    return TurnResult(outcome="asked").say("订单号和手机尾号对不上，请核对后再发一次手机号后四位。")


# --- the actions -----------------------------------------------------------------------


async def perform(turn: Turn, intent: str, order: Order, text: str) -> TurnResult:
    handlers = {
        "order_status": order_status,
        "refund_status": refund_status,
        "change_address": change_address,
        "cancel_order": cancel_order,
        "urge_shipping": urge_shipping,
        "return_request": return_or_exchange,
        "exchange_request": return_or_exchange,
    }
    result = await handlers[intent](turn, order, text, intent)
    result.order_id = order.id
    return result


async def order_status(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    body = await orders.describe_status(
        turn.session, order, turn.tz, turn.settings.ship_within_hours
    )
    return TurnResult(outcome="action", action_result="order_status:shown").say(body)


async def refund_status(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    body = await orders.describe_refunds(turn.session, order, turn.tz)
    return TurnResult(outcome="action", action_result="refund_status:shown").say(body)


def _not_shipped(order: Order) -> bool:
    return order.status in NOT_SHIPPED


async def change_address(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    if not _not_shipped(order):
        return TurnResult(outcome="action", action_result="change_address:refused").say(
            f"订单 {order.order_no} 当前状态是“{orders.status_label(order)}”，包裹已经发出，"
            "不能再修改收货地址了。您可以联系快递员改派，或者拒收后重新下单。",
            [HUMAN_CHOICE],
        )
    address = orders.parse_address(text, order)
    if address is None:
        turn.set_pending("address", intent=intent, order_id=order.id)
        return TurnResult(outcome="asked").say(
            "请发送新的收货地址（省、市、区和详细地址）；收货人或手机号也要改的话请一起发送。"
        )
    return ask_address_confirmation(turn, order, address)


def ask_address_confirmation(turn: Turn, order: Order, address: dict[str, str]) -> TurnResult:
    turn.set_pending("confirm", intent="change_address", order_id=order.id, address=address)
    return TurnResult(outcome="asked").say(
        f"确认将订单 {order.order_no} 的收货地址修改为：{orders.address_text(address)} 吗？",
        CONFIRM_CHOICES,
    )


async def cancel_order(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    if order.status in CLOSED:
        return TurnResult(outcome="action", action_result="cancel_order:refused").say(
            f"订单 {order.order_no} 已经关闭（{orders.status_label(order)}），不需要再取消。"
        )
    if not _not_shipped(order):
        return TurnResult(outcome="action", action_result="cancel_order:refused").say(
            f"订单 {order.order_no} 已经发货（{orders.status_label(order)}），不能取消了。"
            "收到货后如果不需要，可以在签收后 7 天内申请无理由退货，我可以帮您看看能否办理。"
        )
    money = ""
    if order.status != OrderStatus.WAIT_BUYER_PAY and order.paid_amount > order.refunded_amount:
        money = f"已付的 ¥{order.paid_amount - order.refunded_amount:.2f} 会原路退回。"
    turn.set_pending("confirm", intent="cancel_order", order_id=order.id)
    return TurnResult(outcome="asked").say(
        f"确认取消订单 {order.order_no} 吗？{money}", CONFIRM_CHOICES
    )


async def execute_confirmed(turn: Turn, pending: dict[str, Any]) -> TurnResult:
    """The customer said yes to a pending change: do it through the connector."""
    intent = str(pending.get("intent"))
    order = await turn.session.get(Order, int(pending.get("order_id") or 0))
    turn.clear_pending()
    if order is None or not orders.may_see(turn.state, turn.signed_customer_id, order):
        return TurnResult(outcome="none").say("没有找到要修改的订单，请重新发送订单号。")
    connector = get_connector(turn.session, turn.store)
    result = TurnResult(outcome="action", order_id=order.id)
    try:
        if intent == "change_address":
            data = pending.get("address") or {}
            done = await connector.change_address(
                order.id,
                NewAddress(
                    receiver_name=str(data.get("receiver_name", "")),
                    phone=str(data.get("phone", "")),
                    province=str(data.get("province", "")),
                    city=str(data.get("city", "")),
                    district=str(data.get("district", "")),
                    detail=str(data.get("detail", "")),
                ),
                actor=turn.actor,
            )
        else:
            done = await connector.cancel_order(
                order.id, reason="买家在线申请取消（智能客服）", actor=turn.actor
            )
    except ActionRefused as exc:
        result.action_result = f"{intent}:refused"
        return result.say(f"抱歉，没能办理：{exc.zh}", [HUMAN_CHOICE])
    except KefuError as exc:
        result.action_result = f"{intent}:failed"
        return result.say(f"抱歉，没能办理：{exc.zh}", [HUMAN_CHOICE])
    result.action_result = f"{intent}:done"
    return result.say(done.message_zh + "。如还有其他问题，随时告诉我。")


async def urge_shipping(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    """Recorded as an order note, and as a 物流 ticket in the warehouse group's queue (one per
    order per day), so someone is accountable for the dispatch; the customer is told when."""
    if order.status in CLOSED:
        return TurnResult(outcome="action", action_result="urge_shipping:closed").say(
            f"订单 {order.order_no} 已经关闭（{orders.status_label(order)}），不会再发货了。"
        )
    if order.status == OrderStatus.WAIT_BUYER_PAY:
        return TurnResult(outcome="action", action_result="urge_shipping:unpaid").say(
            f"订单 {order.order_no} 还没有付款，"
            f"付款后会在 {turn.settings.ship_within_hours} 小时内发出。"
        )
    if not _not_shipped(order):
        body = await orders.describe_status(
            turn.session, order, turn.tz, turn.settings.ship_within_hours
        )
        return TurnResult(outcome="action", action_result="urge_shipping:shipped").say(
            "您的订单已经发出啦：\n" + body
        )
    deadline = orders.ship_deadline(order, turn.settings.ship_within_hours)
    promise = f"预计 {orders.when(deadline, turn.tz)} 前发出" if deadline else "会尽快发出"
    since = turn.now - URGE_REPEAT_WINDOW
    already = await turn.session.scalar(
        select(BotTurn.id).where(
            BotTurn.order_id == order.id,
            BotTurn.action_result == "urge_shipping:recorded",
            BotTurn.created_at >= since,
        )
    )
    if already is not None:
        return TurnResult(outcome="action", action_result="urge_shipping:repeat").say(
            f"已经帮您催过仓库了，订单 {order.order_no} {promise}，发货后可以随时问我物流进度。"
        )
    connector = get_connector(turn.session, turn.store)
    await connector.add_note(order.id, "买家在线催发货（智能客服记录）", actor=turn.actor)
    await _warehouse_ticket(turn, order, promise)
    return TurnResult(outcome="action", action_result="urge_shipping:recorded").say(
        f"已经帮您催促仓库加急处理，订单 {order.order_no} {promise}，发货后可以随时问我物流进度。"
    )


async def _warehouse_ticket(turn: Turn, order: Order, promise: str) -> None:
    from kefu.accounts.models import Group
    from kefu.tickets import service as tickets
    from kefu.tickets.schemas import TicketCreate

    group_id = None
    if turn.settings.warehouse_group:
        group_id = await turn.session.scalar(
            select(Group.id).where(Group.code == turn.settings.warehouse_group)
        )
    await tickets.create_ticket(
        turn.session,
        turn.actor,
        TicketCreate(
            subject=f"催发货：订单 {order.order_no}",
            description=f"买家在线催发货，机器人已答复“{promise}”。请仓库优先安排。",
            type_code="logistics",
            customer_id=order.customer_id,
            order_ids=[order.id],
            conversation_id=turn.conversation.id,
            group_id=group_id,
        ),
        source="automation",  # the bot opened it, not a person
        store_id=turn.store.id,
    )


# --- returns and exchanges -------------------------------------------------------------


def request_reason(text: str) -> RequestReason:
    if _WRONG.search(text):
        return RequestReason.wrong_item
    if _MISSING.search(text):
        return RequestReason.missing_item
    if _QUALITY.search(text):
        return RequestReason.quality
    if _NOT_AS_DESCRIBED.search(text):
        return RequestReason.not_as_described
    return RequestReason.no_reason


async def evaluate(
    turn: Turn, order: Order, kind: RequestKind, reason: RequestReason
) -> PolicyDecision:
    items = await orders.items_of(turn.session, order.id)
    product_ids = [i.product_id for i in items if i.product_id is not None]
    products = {
        p.id: p
        for p in await turn.session.scalars(select(Product).where(Product.id.in_(product_ids)))
    }
    customer = turn.customer
    policy_order = policy_order_from_store(
        order,
        items,
        products=products,
        store=turn.store,
        customer=customer,
        refunds=list(await orders.refunds_of(turn.session, order.id)),
    )
    request = AftersalesRequest(
        kind=kind,
        reason=reason,
        lines=tuple(
            RequestLine(line_id=line.line_id, quantity=line.quantity) for line in policy_order.lines
        ),
        requested_at=turn.now,
    )
    return evaluate_request(policy_order, request, settings_for_store(turn.store))


def explain(decision: PolicyDecision) -> str:
    """The decision in plain sentences for a shopper (without the articles' citations)."""
    kind = REQUEST_KIND_LABELS[decision.kind][0]
    if decision.allowed:
        lines = [f"根据店铺售后规则，这笔订单可以办理{kind}："]
        lines += [f"· {r.zh}" for r in decision.reasons[:3]]
        if decision.max_refundable_amount > 0:
            lines.append(f"· 最多可退 ¥{decision.max_refundable_amount:.2f}")
    else:
        lines = [f"很抱歉，这笔订单不能办理{kind}："]
        lines += [f"· {r.zh}" for r in decision.failures[:3]]
        lines += [f"· {r.zh}" for r in decision.notes if r.code == "quality_still_possible"]
    return "\n".join(lines)


async def return_or_exchange(turn: Turn, order: Order, text: str, intent: str) -> TurnResult:
    kind = RequestKind.exchange if intent == "exchange_request" else RequestKind.return_refund
    reason = request_reason(text)
    if kind is RequestKind.return_refund and _not_shipped(order):
        return TurnResult(outcome="action", action_result=f"{intent}:not_shipped").say(
            f"订单 {order.order_no} 还没有发货，不需要退货，可以直接取消订单。需要帮您取消吗？",
            [{"label": "取消订单", "text": f"取消订单 {order.order_no}"}],
        )
    try:
        decision = await evaluate(turn, order, kind, reason)
    except (KefuError, ValueError):
        return TurnResult(outcome="handoff", handoff_reason="aftersales_review")
    body = explain(decision)
    result = TurnResult(outcome="action")
    if not decision.allowed:
        result.action_result = f"{intent}:refused"
        return result.say(body, [HUMAN_CHOICE])
    try:
        case_no = await _open_case(turn, order, kind, reason, decision)
    except KefuError:
        # The case could not be opened (e.g. a line already in another case): an agent
        # completes it, with the engine's decision in the handover note.
        result.action_result = f"{intent}:eligible"
        result.outcome = "handoff"
        result.handoff_reason = "aftersales_eligible"
        result.note = "售后审核（政策引擎）：\n" + decision.explain("zh_CN")
        return result.say(body + "\n我已把审核结果转给售后客服，由客服为您办理。")
    result.action_result = f"{intent}:case_opened"
    follow = "商家审核通过后会告诉您寄回地址" if decision.requires_return else "商家会尽快处理"
    return result.say(body + f"\n已为您提交售后申请，售后单号 {case_no}，{follow}。")


async def _open_case(
    turn: Turn, order: Order, kind: RequestKind, reason: RequestReason, decision: PolicyDecision
) -> str:
    """Open the after-sales case (source `bot`) through the after-sales service; the same
    request again in this conversation returns the first case (idempotency key)."""
    # A savepoint: a refusal half-way leaves nothing behind in the bot's transaction.
    async with turn.session.begin_nested():
        return await _create(turn, order, kind, reason)


async def _create(turn: Turn, order: Order, kind: RequestKind, reason: RequestReason) -> str:
    from kefu.aftersales import service as aftersales
    from kefu.aftersales.enums import CaseSource
    from kefu.aftersales.schemas import CaseCreate, CaseLineIn

    items = await orders.items_of(turn.session, order.id)
    created = await aftersales.create_case(
        turn.session,
        turn.actor,
        CaseCreate(
            order_id=order.id,
            kind=kind,
            reason=reason,
            lines=[CaseLineIn(order_item_id=i.id, quantity=i.quantity) for i in items],
            description=f"顾客在线申请（{turn.settings.name}）：{turn.text}"[:2000],
            conversation_id=turn.conversation.id,
        ),
        source=CaseSource.bot,
        store_id=turn.store.id,
        idempotency_key=f"bot:{turn.conversation.id}:{order.id}:{kind.value}",
    )
    return created.case.number
