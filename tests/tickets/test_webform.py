"""The customer's web form and how the customer hears back: email through a real SMTP
server, replies into the chat a ticket came from, the signed status page."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core import jobs
from kefu.core.db import Database
from kefu.store.models import Order
from kefu.tickets import service
from kefu.tickets.enums import TicketStatus
from kefu.tickets.models import Ticket, ticket_orders
from tests.core.test_mail import _wait_for
from tests.fixtures.factories import CSRF_RE, LoginAs, MakeUser
from tests.fixtures.servers import CapturedMail
from tests.tickets.conftest import Shop, actor_of


async def _form_token(client: httpx.AsyncClient, store_code: str) -> str:
    page = await client.get(f"/help/{store_code}/contact")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or CSRF_RE.search(page.text)
    assert match
    return match.group(1)


def _body(message: object) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


async def test_form_opens_a_ticket_confirms_by_mail_and_shows_status(
    client: httpx.AsyncClient, db: Database, shop: Shop, smtp: CapturedMail
) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)
    async with db.sessionmaker() as s:
        await s.execute(
            update(Order).where(Order.id == shop.order.id).values(receiver_phone="13812345678")
        )
        await s.commit()
    token = await _form_token(client, shop.store.code)
    sent = await client.post(
        f"/help/{shop.store.code}/contact",
        data={
            "csrf_token": token, "type_code": "logistics", "name": "王女士",
            "email": "wang@example.com", "phone": "13812345678",
            "order_no": shop.order.order_no, "subject": "快递三天没动",
            "description": "订单显示已发货，但物流三天没有更新，麻烦查一下。",
        },
    )  # fmt: skip
    assert sent.status_code == 303
    status_url = sent.headers["location"]
    assert status_url.startswith("/t/")
    page = await client.get(status_url)
    assert "我们已收到您的问题" in page.text and "物流三天没有更新" in page.text

    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.source == "web_form"))
        assert ticket is not None
        assert (ticket.store_id, ticket.type_code, ticket.contact_email) == (
            shop.store.id, "logistics", "wang@example.com",
        )  # fmt: skip
        # The phone matches the order's receiver: the order and its customer are linked.
        linked = await s.scalar(
            select(func.count())
            .select_from(ticket_orders)
            .where(ticket_orders.c.ticket_id == ticket.id)
        )
        assert linked == 1 and ticket.customer_id == shop.customer.id
    await _wait_for(smtp, 1)
    recipients, message = smtp.messages[0]
    assert recipients == ["wang@example.com"]
    assert ticket.number in message["Subject"]
    assert status_url.removesuffix("?created=1") in _body(message)


async def test_form_refuses_bad_input_and_keeps_what_was_typed(
    client: httpx.AsyncClient, db: Database, shop: Shop
) -> None:
    token = await _form_token(client, shop.store.code)
    missing = await client.post(
        f"/help/{shop.store.code}/contact",
        data={"csrf_token": token, "type_code": "inquiry", "description": "能开发票吗"},
    )
    assert missing.status_code == 422
    assert "请留下邮箱或手机号" in missing.text and "能开发票吗" in missing.text
    bad_mail = await client.post(
        f"/help/{shop.store.code}/contact",
        data={"csrf_token": token, "description": "能开发票吗", "email": "not-mail"},
    )
    assert bad_mail.status_code == 422 and "邮箱地址无效" in bad_mail.text
    forged = await client.post(
        f"/help/{shop.store.code}/contact",
        data={"csrf_token": "forged", "description": "x", "email": "a@example.com"},
    )
    assert forged.status_code == 403
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_someone_elses_order_number_is_not_linked(
    client: httpx.AsyncClient, db: Database, shop: Shop
) -> None:
    token = await _form_token(client, shop.store.code)
    sent = await client.post(
        f"/help/{shop.store.code}/contact",
        data={
            "csrf_token": token, "description": "查一下这个订单", "phone": "13000000000",
            "order_no": shop.order.order_no,
        },
    )  # fmt: skip
    assert sent.status_code == 303
    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket))
        assert ticket is not None and ticket.customer_id is None
        assert shop.order.order_no in ticket.description


async def test_honeypot_and_rate_limit(client: httpx.AsyncClient, db: Database, shop: Shop) -> None:
    token = await _form_token(client, shop.store.code)
    data = {"csrf_token": token, "description": "你好", "email": "a@example.com"}
    bot = await client.post(f"/help/{shop.store.code}/contact", data={**data, "website": "x"})
    assert bot.status_code == 429
    codes = [
        (await client.post(f"/help/{shop.store.code}/contact", data=data)).status_code
        for _ in range(6)
    ]
    assert codes == [303] * 5 + [429]
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 5


async def test_reply_and_resolution_reach_the_customer_by_mail(
    tsession: AsyncSession, db: Database, shop: Shop, make_user: MakeUser, smtp: CapturedMail
) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)
    agent = actor_of(await make_user(Role.agent))
    shop.customer.email = "zhang@example.com"
    await tsession.merge(shop.customer)
    from kefu.tickets.schemas import TicketCreate

    ticket = await service.create_ticket(
        tsession, agent, TicketCreate(subject="发票", customer_id=shop.customer.id)
    )
    await tsession.commit()
    await jobs.drain()
    assert smtp.messages == []  # an agent's own ticket sends no confirmation

    await service.reply_to_customer(tsession, agent, ticket.id, "发票已开具，请查收。")
    await tsession.commit()
    await _wait_for(smtp, 1)
    assert "发票已开具" in _body(smtp.messages[0][1])

    await service.transition(tsession, agent, ticket.id, TicketStatus.pending_internal)
    await tsession.commit()
    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved)
    await tsession.commit()
    await _wait_for(smtp, 2)
    await jobs.drain()
    assert len(smtp.messages) == 2  # pending_internal is not the customer's business
    resolved = _body(smtp.messages[1][1])
    assert "已解决" in resolved and "打分" in resolved and "/t/" in resolved


async def test_agents_see_the_contact_masked(
    client: httpx.AsyncClient, db: Database, shop: Shop, login_as: LoginAs
) -> None:
    token = await _form_token(client, shop.store.code)
    await client.post(
        f"/help/{shop.store.code}/contact",
        data={"csrf_token": token, "description": "能开专票吗", "phone": "13912345678",
              "email": "li@example.com", "name": "李先生"},
    )  # fmt: skip
    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket))
        assert ticket is not None
    agent = await login_as(Role.agent)
    page = (await agent.get(f"/tickets/{ticket.id}")).text
    assert "139****5678" in page and "13912345678" not in page
    assert "li@example.com" not in page
    supervisor = await login_as(Role.supervisor)
    assert "13912345678" in (await supervisor.get(f"/tickets/{ticket.id}")).text
