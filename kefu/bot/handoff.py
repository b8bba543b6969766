"""Handing a conversation from the bot to a person (转人工).

Triggers, checked on every turn before anything else: the shop's own keywords, complaint
words or the complaint intent (投诉, 12315, 假货, 工商, 律师, 曝光 always count), an explicit
request for a human, a message the sentiment model reads as angry, a VIP customer when the
shop wants VIPs served by people, and (in the dialogue) N turns in a row the bot did not
understand or a request only an agent can complete.

On handover the bot goes silent for the conversation, the chat joins the human queue (open,
unassigned, waiting since now, in the skill group of the entry the customer used) and routing
is asked for an agent at once. The agent gets an internal note summing up the bot's part:
why, the intent, the order, what the bot answered, the customer's mood. When nobody can take
the chat (outside chat hours, nobody at work) the customer is told so and the bot takes down
their message as a ticket (留言).
"""

from __future__ import annotations

from sqlalchemy import select

from kefu.bot.context import Turn
from kefu.bot.models import BotTurn
from kefu.bot.orders import status_label
from kefu.bot.replies import TurnResult
from kefu.bot.settings import COMPLAINT_WORDS
from kefu.store.models import Order

REASONS = {
    "requested": "客户要求转人工",
    "complaint": "投诉或强烈不满",
    "negative_emotion": "客户情绪负面",
    "low_confidence": "机器人连续未能理解",
    "keyword": "命中店铺转人工关键词",
    "vip": "VIP 客户",
    "identify_failed": "订单身份核对多次失败",
    "aftersales_eligible": "售后申请符合规则，待客服办理",
    "aftersales_review": "售后申请需要人工审核",
}
VIP_TIERS = frozenset({"vip", "svip"})
COMPLAINT_SCORE = 0.7
UNDERSTOOD_ANGER = 0.97
LEAVE_MESSAGE_CHOICE = {"label": "留言", "text": "我要留言", "action": "leave_message"}


def trigger(turn: Turn, *, plain_answer: bool) -> str | None:
    """Why this message must go to a person now, or None. `plain_answer` (a yes/no to the
    bot's question) is not read for mood: "不用了" is not anger."""
    text = turn.text
    settings = turn.settings
    if any(word in text for word in settings.handoff_keywords):
        return "keyword"
    scores = {m.name: m.score for m in turn.understanding.intents}
    if (
        any(word in text for word in COMPLAINT_WORDS)
        or scores.get("complaint", 0) >= COMPLAINT_SCORE
    ):
        return "complaint"
    if turn.understanding.label == "intent:human":
        return "requested"
    if not plain_answer and turn.negative_prob is not None:
        # The sentiment model reads many plain requests as negative ("能不能快点发货" 0.93):
        # a message the bot understands must be clearly angry to leave the bot.
        understood = turn.understanding.action == "answer" or (
            turn.understanding.action == "intent" and turn.understanding.confidence >= 0.85
        )
        bar = max(settings.negative_threshold, UNDERSTOOD_ANGER) if understood else None
        if turn.negative_prob >= (bar or settings.negative_threshold):
            return "negative_emotion"
    if settings.vip_handoff and turn.customer is not None and turn.customer.tier in VIP_TIERS:
        return "vip"
    return None


def mood(negative_prob: float | None) -> str:
    if negative_prob is None:
        return "未知"
    if negative_prob >= 0.65:
        return f"负面（负面概率 {negative_prob:.2f}）"
    if negative_prob <= 0.35:
        return f"正面（负面概率 {negative_prob:.2f}）"
    return f"平稳（负面概率 {negative_prob:.2f}）"


async def summary(turn: Turn, result: TurnResult) -> str:
    """The internal note the agent taking over reads first."""
    state = turn.state
    reason = result.handoff_reason
    lines = [f"【{turn.settings.name}转人工】原因：{REASONS.get(reason, reason)}"]
    if turn.customer is not None:
        tier = f"（{turn.customer.tier.upper()}）" if turn.customer.tier in VIP_TIERS else ""
        lines.append(f"客户：{turn.customer.nickname or turn.customer.name}{tier}")
    else:
        lines.append("客户：访客（未登录店铺账号）")
    order_id = result.order_id or state.order_id
    order = await turn.session.get(Order, order_id) if order_id else None
    if order is not None:
        lines.append(f"订单：{order.order_no}（{status_label(order)}）")
    intent = turn.understanding.label
    lines.append(f"本条识别：{intent}（置信度 {turn.understanding.confidence:.2f}）")
    if state.last_intent:
        lines.append(f"最近意图：{state.last_intent}")
    lines.append(f"客户情绪：{mood(turn.negative_prob)}")
    earlier = list(
        await turn.session.scalars(
            select(BotTurn)
            .where(BotTurn.conversation_id == turn.conversation.id)
            .order_by(BotTurn.id.desc())
            .limit(5)
        )
    )
    if earlier:
        lines.append("机器人已处理：")
        for row in reversed(earlier):
            what = (row.faq_key and f"答 FAQ {row.faq_key}") or row.action_result or row.outcome
            lines.append(f"· “{_short(row.text)}” → {what}")
    lines.append(f"· “{_short(turn.text)}” → 转人工")
    if result.note:
        lines.append(result.note)
    return "\n".join(lines)


def _short(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def hand_over(turn: Turn, result: TurnResult) -> str:
    """Mark the conversation as handed over, queue it for a person and tell the customer.
    Returns the agent's summary note; the caller posts it and then routes the chat."""
    from kefu.conversations import queue
    from kefu.conversations.routing_settings import chat_routing

    state = turn.state
    state.handed_off_at = turn.now
    state.handoff_reason = result.handoff_reason
    state.pending = {}
    conversation = turn.conversation
    if conversation.group_id is None:
        conversation.group_id = chat_routing(turn.store).group_for(
            (conversation.context or {}).get("topic")
        )
    if conversation.waiting_since is None:
        conversation.waiting_since = turn.now
    available = await queue.availability(turn.session, turn.store, conversation=conversation)
    if available.mode == "offline" or not available.agents_online:
        turn.set_pending("leave_message")
        result.say(
            "现在没有客服在线，暂时无法转接人工。请直接在这里留言：说明您的问题并留下手机号，"
            "客服上线后会第一时间联系您。",
            [LEAVE_MESSAGE_CHOICE],
        )
    else:
        result.say("正在为您转接人工客服，请稍候，客服马上就来～")
    return await summary(turn, result)
