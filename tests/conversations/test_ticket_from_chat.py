"""One click in the inbox turns a chat into a ticket that carries what was said."""

from __future__ import annotations

from sqlalchemy import select

from kefu.accounts.permissions import Role
from kefu.core.db import Database
from kefu.store.models import Store
from kefu.tickets.models import Ticket
from tests.conversations.test_service import staff, visitor
from tests.fixtures.factories import LoginAs


async def test_create_ticket_from_conversation(
    db: Database, chat_store: Store, login_as: LoginAs
) -> None:
    from kefu.conversations import service

    agent = await login_as(Role.agent)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, visitor(chat_store, "小鱼儿"), client_msg_id="c1", body="收到的水壶漏水，怎么办？"
        )
        cid = posted.conversation.id
        await service.post_agent_message(
            s,
            staff(agent.user),
            cid,
            client_msg_id="a1",
            body="非常抱歉，马上为您处理",  # type: ignore[attr-defined]
        )
        await service.post_agent_message(
            s,
            staff(agent.user),
            cid,
            client_msg_id="a2",
            body="疑似质量问题",  # type: ignore[attr-defined]
            audience="internal",
        )
        await s.commit()

    page = await agent.get(f"/inbox/_pane/{cid}")
    assert f'action="/inbox/{cid}/ticket"' in page.text

    response = await agent.post(f"/inbox/{cid}/ticket")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/tickets/")

    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.conversation_id == cid))
    assert ticket is not None
    assert ticket.subject == "收到的水壶漏水，怎么办？"
    assert ticket.assignee_id == agent.user.id  # type: ignore[attr-defined]
    detail = await agent.get(response.headers["location"])
    assert "非常抱歉，马上为您处理" in detail.text
    assert "疑似质量问题" not in detail.text  # internal notes stay in the chat


async def test_qa_without_ticket_permission_cannot(
    db: Database, chat_store: Store, login_as: LoginAs
) -> None:
    from kefu.conversations import service

    qa = await login_as(Role.qa)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, visitor(chat_store), client_msg_id="c1", body="在吗"
        )
        await s.commit()
    response = await qa.post(f"/inbox/{posted.conversation.id}/ticket")
    assert response.status_code == 403


async def test_ticket_reply_and_resolution_go_back_into_the_chat(
    db: Database, chat_store: Store, login_as: LoginAs
) -> None:
    from kefu.conversations import service
    from kefu.conversations.models import Message
    from kefu.tickets import service as tickets
    from kefu.tickets.enums import TicketStatus

    agent = await login_as(Role.agent)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, visitor(chat_store, "小鱼儿"), client_msg_id="c1", body="发票什么时候开？"
        )
        cid = posted.conversation.id
        await s.commit()
    assert (await agent.post(f"/inbox/{cid}/ticket")).status_code == 303
    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.conversation_id == cid))
        assert ticket is not None
        actor = staff(agent.user)  # type: ignore[attr-defined]
        await tickets.reply_to_customer(s, actor, ticket.id, "发票已开具，请在订单页下载。")
        await tickets.transition(s, actor, ticket.id, TicketStatus.resolved)
        await s.commit()
        public = list(
            await s.scalars(
                select(Message.body)
                .where(Message.conversation_id == cid, Message.audience == "public")
                .order_by(Message.id)
            )
        )
    assert public[0] == "发票什么时候开？"
    assert public[1] == f"【工单 {ticket.number}】发票已开具，请在订单页下载。"
    assert public[2].startswith(f"【工单 {ticket.number}】已解决") and "/t/" in public[2]
