"""One turn of the bot's conversation: from an understood message to what the bot does.

In order:
1. handover triggers (`kefu.bot.handoff.trigger`);
2. a pending step, if the bot asked something last turn: a yes/no to confirm a change, which
   order, the order number and phone tail, the new address. A message that clearly asks
   something else drops the pending step and is answered as a new question;
3. an intent: order intents find the order first (`actions.resolve_order`), greeting,
   thanks; a bare order number is a status query;
4. a FAQ answer, three suggestions ("您是不是想问…") as choices, or the fallback with a
   转人工 choice. After `low_confidence_turns` fallbacks in a row the bot hands over.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from kefu.bot import actions, handoff, llm, orders
from kefu.bot.context import Turn
from kefu.bot.pipeline import Thresholds
from kefu.bot.replies import HUMAN_CHOICE, TurnResult
from kefu.store.models import Order

PENDING_TTL = timedelta(minutes=30)
_YES = re.compile(
    r"^(是|是的|对|对的|确认|确定|好|好的|嗯|嗯嗯|行|可以|没问题|ok|yes|y|确认修改|确认取消|改吧|取消吧)[!.。！~～]*$"
)
_NO = re.compile(
    r"^(不|否|不是|不用|不用了|不要|不要了|算了|先不|先不用|no|n|不改了|不取消了|取消操作)[!.。！~～]*$"
)


def yes_or_no(normalized: str) -> bool | None:
    text = normalized.strip().replace(" ", "")
    if _YES.match(text):
        return True
    if _NO.match(text):
        return False
    return None


def _pending_alive(turn: Turn) -> bool:
    pending = turn.state.pending or {}
    if not pending.get("step"):
        return False
    try:
        at = datetime.fromisoformat(str(pending.get("at")))
    except ValueError:
        return False
    return turn.now - at <= PENDING_TTL


def _asks_something_else(turn: Turn, intent: str | None) -> bool:
    """A confident new question or a different explicit intent."""
    u = turn.understanding
    if u.action == "answer":
        return True
    return u.action == "intent" and u.label != f"intent:{intent}"


async def respond(turn: Turn) -> TurnResult:
    plain_answer = _pending_alive(turn) and yes_or_no(turn.understanding.normalized) is not None
    reason = handoff.trigger(turn, plain_answer=plain_answer)
    if reason is not None:
        return TurnResult(outcome="handoff", handoff_reason=reason)
    if _pending_alive(turn):
        result = await _continue_pending(turn)
        if result is not None:
            return result
    turn.clear_pending()
    return await _fresh_turn(turn)


async def _continue_pending(turn: Turn) -> TurnResult | None:
    """The answer to the bot's last question, or None if the customer moved on."""
    pending = dict(turn.state.pending or {})
    step = pending.get("step")
    intent = str(pending.get("intent") or "")
    if step == "confirm":
        answer = yes_or_no(turn.understanding.normalized)
        if answer is True:
            return await actions.execute_confirmed(turn, pending)
        if answer is False:
            turn.clear_pending()
            return TurnResult(outcome="action", action_result=f"{intent}:declined").say(
                "好的，已为您保留原订单，没有做任何修改。还有什么可以帮您？"
            )
        if _asks_something_else(turn, intent):
            return None
        return TurnResult(outcome="asked").say(
            "请回复“确认”继续办理，或回复“不用了”取消。", actions.CONFIRM_CHOICES
        )
    if step == "address":
        order = await turn.session.get(Order, int(pending.get("order_id") or 0))
        if order is None:
            return None
        address = orders.parse_address(turn.text, order)
        if address is not None:
            return actions.ask_address_confirmation(turn, order, address)
        if _asks_something_else(turn, intent):
            return None
        return TurnResult(outcome="asked").say(
            "没能识别出新地址，请按“省 市 区 详细地址”的格式发送，"
            "例如：浙江省杭州市西湖区文三路 100 号。"
        )
    if step == "order":
        if turn.slots.get("order_no"):
            return await _order_intent(turn, intent, str(pending.get("text") or turn.text))
        if _asks_something_else(turn, intent):
            return None
        return TurnResult(outcome="asked").say("请点选上面的订单，或直接发送订单号。")
    if step == "identify":
        order_no = turn.slots.get("order_no") or pending.get("order_no")
        tail = turn.slots.get("phone_tail") or orders.bare_phone_tail(
            turn.understanding.normalized, turn.slots.get("order_no")
        )
        if not turn.slots.get("order_no") and not tail and _asks_something_else(turn, intent):
            return None
        if not order_no:
            turn.set_pending("identify", intent=intent, text=pending.get("text", ""))
            return TurnResult(outcome="asked").say("请发送订单号（可以在“我的订单”里复制）。")
        order = await orders.find_order(turn.session, turn.store.id, str(order_no))
        if order is None:
            turn.set_pending("identify", intent=intent, text=pending.get("text", ""))
            return TurnResult(outcome="asked").say(
                f"没有找到订单号 {order_no} 的订单，请核对后再发一次。"
            )
        if not tail and not orders.may_see(turn.state, turn.signed_customer_id, order):
            turn.set_pending(
                "identify", intent=intent, order_no=order.order_no, text=pending.get("text", "")
            )
            return TurnResult(outcome="asked").say("请再发送收货手机号的后四位（尾号）。")
        if not orders.may_see(turn.state, turn.signed_customer_id, order):
            found = await actions.verify(
                turn, intent, order, str(tail), attempts=int(pending.get("attempts") or 0)
            )
            if isinstance(found, TurnResult):
                return found
        turn.clear_pending()
        turn.state.order_id = order.id
        return await _act(turn, intent or "order_status", order, str(pending.get("text") or ""))
    return None


async def _order_intent(turn: Turn, intent: str, text: str) -> TurnResult:
    found = await actions.resolve_order(turn, intent)
    if isinstance(found, TurnResult):
        return found
    turn.clear_pending()
    return await _act(turn, intent, found, text)


async def _act(turn: Turn, intent: str, order: Order, text: str) -> TurnResult:
    turn.state.last_intent = intent
    # The address may have been in the first message ("订单… 地址改成…") or in this one.
    return await actions.perform(
        turn, intent, order, f"{text} {turn.text}" if text != turn.text else text
    )


# What a choice says to ask for an order action explicitly (each reads as an explicit intent).
ACTION_PHRASES = {
    "order_status": "查一下我的订单",
    "change_address": "我要修改收货地址",
    "cancel_order": "我要取消订单",
    "urge_shipping": "催一下发货",
    "return_request": "我要退货",
    "exchange_request": "我要换货",
    "refund_status": "查一下我的退款",
}
VAGUE_FAQ_FLOOR = 0.1


def _vague(turn: Turn) -> bool:
    """Only a possible intent, without an order number, next to FAQ entries on the topic."""
    u = turn.understanding
    return (
        u.confidence < Thresholds().intent_likely
        and not turn.slots.get("order_no")
        and any(h.confidence >= VAGUE_FAQ_FLOOR for h in u.suggestions)
    )


async def _fresh_turn(turn: Turn) -> TurnResult:
    u = turn.understanding
    intent = u.label.removeprefix("intent:") if u.action == "intent" else None
    if intent is None and u.action == "fallback" and turn.slots.get("order_no"):
        intent = "order_status"  # a bare order number: the customer wants to know about it
    if intent in actions.ORDER_INTENTS and _vague(turn):
        # "关于退货" may be a policy question or a request: let the customer say which.
        turn.state.low_confidence_streak = 0
        choices = [
            {"label": h.entry.question, "text": h.entry.question}
            for h in u.suggestions
            if h.confidence >= VAGUE_FAQ_FLOOR
        ]
        phrase = ACTION_PHRASES[intent]
        return TurnResult(outcome="suggested").say(
            "您是不是想问：", [*choices[:3], {"label": phrase, "text": phrase}, HUMAN_CHOICE]
        )
    if intent in actions.ORDER_INTENTS:
        turn.state.low_confidence_streak = 0
        turn.state.last_intent = intent
        return await _order_intent(turn, intent, turn.text)
    if intent == "greeting":
        turn.state.low_confidence_streak = 0
        return TurnResult(outcome="answered").say(
            f"您好，我是{turn.settings.name}～可以问我发货、退换货、尺码等问题，"
            "也可以发送订单号查询订单。"
        )
    if intent == "thanks":
        turn.state.low_confidence_streak = 0
        return TurnResult(outcome="answered").say("不客气，祝您购物愉快！还有问题随时找我。")
    if u.action == "answer" and u.faq is not None:
        turn.state.low_confidence_streak = 0
        answer = u.faq.answer or u.faq.question
        wording = ""
        if turn.settings.llm_rephrase:
            answer, wording = await llm.rephrase(turn.text, answer)
        return TurnResult(outcome="answered", action_result=wording).say(answer)
    if u.action == "suggest" and u.suggestions:
        turn.state.low_confidence_streak = 0
        choices = [{"label": h.entry.question, "text": h.entry.question} for h in u.suggestions[:3]]
        return TurnResult(outcome="suggested").say("您是不是想问：", [*choices, HUMAN_CHOICE])
    turn.state.low_confidence_streak += 1
    limit = turn.settings.low_confidence_turns
    if limit and turn.state.low_confidence_streak >= limit:
        return TurnResult(outcome="handoff", handoff_reason="low_confidence")
    return TurnResult(outcome="none").say(
        "抱歉，我没能理解您的问题。可以换个说法再问我，或者转人工客服。", [HUMAN_CHOICE]
    )
