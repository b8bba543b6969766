"""Rating a finished chat: once, 1–5 stars, credited to the agent, low scores alert people."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.conversations import csat, service
from kefu.core.db import Database
from kefu.core.events import pending_events
from kefu.store.models import Store
from tests.conversations.test_service import staff, visitor
from tests.fixtures.factories import MakeUser


async def _resolved_chat(db: Database, store: Store, agent_actor: object) -> int:
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, visitor(store, "小鱼儿"), client_msg_id="c1", body="运费怎么算？"
        )
        cid = posted.conversation.id
        await service.post_agent_message(
            s,
            agent_actor,
            cid,
            client_msg_id="a1",
            body="满 99 包邮哦",  # type: ignore[arg-type]
        )
        await s.commit()
    return cid


async def test_rating_once_and_credited_to_the_agent(
    client: httpx.AsyncClient, db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user(Role.agent)
    cid = await _resolved_chat(db, chat_store, staff(agent))
    token = csat.survey_token(cid)

    bad = await client.post(f"/api/v1/widget/csat/{token}", json={"score": 6})
    assert bad.status_code == 422
    rated = await client.post(
        f"/api/v1/widget/csat/{token}", json={"score": 5, "comment": "回复很快 "}
    )
    assert rated.status_code == 201
    again = await client.post(f"/api/v1/widget/csat/{token}", json={"score": 1})
    assert again.status_code == 409 and "已经评价过" in again.json()["title_zh"]
    forged = await client.post(f"/api/v1/widget/csat/{token}x", json={"score": 1})
    assert forged.status_code == 404

    async with db.sessionmaker() as s:
        rating = await csat.rating_for(s, cid)
        assert rating is not None
        assert (rating.score, rating.comment, rating.agent_id) == (5, "回复很快", agent.id)
        assert await csat.agent_scores(s, [agent.id]) == {agent.id: (5.0, 1)}


async def test_low_score_alerts_supervisors_and_the_agent(
    session: AsyncSession, db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user(Role.agent)
    supervisor = await make_user(Role.supervisor)
    cid = await _resolved_chat(db, chat_store, staff(agent))
    await csat.rate(session, csat.survey_token(cid), 2, "等了很久")
    alerted = {c for c, p in pending_events(session) if p["type"] == "conversation.csat_low"}
    assert alerted == {f"agent:{agent.id}", f"agent:{supervisor.id}"}


async def test_agents_see_the_rating_in_the_conversation(
    db: Database, chat_store: Store, login_as: Any
) -> None:
    agent = await login_as(Role.agent)
    cid = await _resolved_chat(db, chat_store, staff(agent.user))
    async with db.sessionmaker() as s:
        await csat.rate(s, csat.survey_token(cid), 4, "挺好的")
        await s.commit()
    pane = (await agent.get(f"/inbox/_pane/{cid}")).text
    assert 'data-testid="chat-rating"' in pane and 'aria-label="4/5"' in pane and "挺好的" in pane


async def test_resolving_a_served_chat_sends_the_survey(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    from kefu.conversations.models import Message

    agent = await make_user(Role.agent)
    cid = await _resolved_chat(db, chat_store, staff(agent))
    async with db.sessionmaker() as s:
        await service.resolve_conversation(s, staff(agent), cid)
        await s.commit()
        survey = await s.scalar(select(Message).where(Message.kind == "csat"))
    assert survey is not None and survey.sender_kind == "system" and survey.audience == "public"
    assert csat.conversation_id_from(survey.payload["token"]) == cid
