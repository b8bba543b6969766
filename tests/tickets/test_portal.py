"""The customer's signed link: status page without internal notes, CSAT once, tampering."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core.events import pending_events
from kefu.tickets import portal, service
from kefu.tickets.enums import TicketStatus
from tests.fixtures.factories import MakeUser
from tests.tickets.conftest import actor_of, new_ticket


async def test_status_page_and_single_rating(
    client: httpx.AsyncClient, tsession: AsyncSession, make_user: MakeUser
) -> None:
    agent = actor_of(await make_user(Role.agent))
    ticket = await new_ticket(tsession, agent, subject="退款什么时候到账")
    await service.reply_to_customer(tsession, agent, ticket.id, "退款已提交，1-3 个工作日到账")
    await service.add_note(tsession, agent, ticket.id, "财务说今天批")
    token = portal.link_token(ticket.id)
    await tsession.commit()

    page = await client.get(f"/t/{token}")
    assert page.status_code == 200
    assert "退款已提交" in page.text and "财务说今天批" not in page.text
    assert 'name="score"' not in page.text  # not resolved yet: nothing to rate
    refused = await client.post(f"/t/{token}/rating", data={"score": "5"})
    assert refused.status_code == 409 and "解决后才能评价" in refused.text

    await service.transition(tsession, agent, ticket.id, TicketStatus.resolved)
    requests = [p for _, p in pending_events(tsession) if p["type"] == "ticket.csat_request"]
    # The link is signed with a timestamp: compare what it opens, not its text.
    assert requests and portal.ticket_id_from(requests[0]["url"].rsplit("/t/", 1)[1]) == ticket.id
    await tsession.commit()
    assert 'name="score"' in (await client.get(f"/t/{token}")).text
    rated = await client.post(f"/t/{token}/rating", data={"score": "2", "comment": "太慢了"})
    assert rated.status_code == 303
    again = await client.post(f"/t/{token}/rating", data={"score": "5"})
    assert again.status_code == 409 and "已经评价过" in again.text


async def test_bad_or_tampered_link(client: httpx.AsyncClient) -> None:
    token = portal.link_token(1)
    assert (await client.get(f"/t/{token}x")).status_code == 404
    assert (await client.get("/t/not-a-token")).status_code == 404
    assert (await client.post("/t/not-a-token/rating", data={"score": "5"})).status_code == 404
