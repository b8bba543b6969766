"""Asking the customer: the polite Chinese question for each kind of work item, and where it goes.

The question is posted into the buyer's most recent conversation of the same store, as the
agent's public message (through `kefu.conversations.service.post_agent_message`, so it is
logged, audited and pushed live like any reply). A buyer without a conversation gets nothing
automatically: the agent is shown the text to send on the shop's platform instead.

Messages carry the buyer's own order number and item, never the full phone number or street
(the chat transcript may be seen by whoever holds the buyer's device or mailbox).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.core.masking import mask_address_detail, mask_name
from kefu.store.models import Order, OrderItem


@dataclass(frozen=True)
class AskOutcome:
    text: str
    conversation_id: int | None  # None: no conversation, the agent sends `text` themself
    duplicate: bool = False


def _item_name(item: OrderItem | None) -> str:
    if item is None:
        return "商品"
    return f"{item.title}（{item.sku_desc}）" if item.sku_desc else item.title


def address_question(order: Order) -> str:
    tail = order.receiver_phone[-4:] if len(order.receiver_phone) >= 4 else ""
    where = (
        f"{order.province}{order.city}{order.district}{mask_address_detail(order.address_detail)}"
    )
    contact = mask_name(order.receiver_name) + (f"，手机尾号 {tail}" if tail else "")
    return (
        f"亲，您好！您的订单 {order.order_no} 已付款成功，感谢您的支持～"
        f"为避免快递送错，麻烦核对一下收货信息：{contact}，{where}。"
        "信息无误请回复“1”；如需修改，请直接把新地址发给我们，发货前都可以修改哦。"
    )


def duplicate_question(first: Order, second: Order, item: OrderItem | None) -> str:
    return (
        f"亲，您好！我们注意到您的两笔订单 {first.order_no} 和 {second.order_no} "
        f"都购买了「{_item_name(item)}」。请问您是需要两份，还是不小心重复下单了呢？"
        "如果是重复下单，回复我们即可帮您取消其中一笔，款项会原路退回。"
    )


def stockout_question(order: Order, item: OrderItem | None) -> str:
    return (
        f"亲，非常抱歉！您订单 {order.order_no} 中的「{_item_name(item)}」暂时缺货了。"
        "请问您希望：1. 等待补货后尽快发出；2. 更换其他颜色或款式；3. 退款？"
        "直接回复数字就可以，给您添麻烦了，我们会第一时间为您处理。"
    )


def merge_note() -> str:
    return "合并发货"


async def latest_conversation_id(
    session: AsyncSession, store_id: int, customer_id: int | None
) -> int | None:
    if customer_id is None:
        return None
    from kefu.conversations.models import Conversation

    stmt = (
        select(Conversation.id)
        .where(Conversation.store_id == store_id, Conversation.customer_id == customer_id)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def ask_customer(
    session: AsyncSession,
    actor: Actor,
    *,
    store_id: int,
    customer_id: int | None,
    text: str,
    client_msg_id: str,
) -> AskOutcome:
    """Post `text` into the buyer's latest conversation, if any. `client_msg_id` makes a
    repeated ask (double click, retried job) post one message."""
    conversation_id = await latest_conversation_id(session, store_id, customer_id)
    if conversation_id is None:
        return AskOutcome(text, None)
    from kefu.conversations import service as conversations

    posted = await conversations.post_agent_message(
        session, actor, conversation_id, client_msg_id=client_msg_id, body=text
    )
    return AskOutcome(text, conversation_id, duplicate=posted.duplicate)
