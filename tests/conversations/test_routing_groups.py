"""Skill groups, strategies, VIP first, sticky agent, queue position and reassign rights."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert

from kefu.accounts.models import Group, User, user_groups
from kefu.channels import identity
from kefu.conversations import queue, routing, service
from kefu.conversations.models import AgentPresence, Conversation
from kefu.core import jobs
from kefu.core.audit import Actor
from kefu.core.db import Database
from kefu.store.models import Customer, Store
from tests.conversations.test_routing import assignee, online
from tests.fixtures.factories import MakeUser


@pytest.fixture(autouse=True)
async def _jobs_on_test_db(db: Database) -> AsyncIterator[None]:
    jobs.use_job_sessionmaker(db.sessionmaker)
    yield
    await jobs.drain()
    jobs.use_job_sessionmaker(None)


def contact(store: Store, customer: Customer | None = None) -> service.Contact:
    vid = identity.visitor_id_from(identity.new_visitor_token()) or ""
    return service.Contact(
        store.id, identity.visitor_hash(vid), customer.id if customer else None, ""
    )


async def write(
    db: Database, who: service.Contact, text: str = "你好", topic: str = ""
) -> Conversation:
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, who, client_msg_id=text + topic, body=text, context={"topic": topic}
        )
        await s.commit()
    return posted.conversation


async def group(db: Database, name: str, *members: User) -> Group:
    async with db.sessionmaker() as s:
        found = Group(code=f"g{name.encode().hex()[:12]}", name=name)
        s.add(found)
        await s.flush()
        for user in members:
            await s.execute(insert(user_groups).values(user_id=user.id, group_id=found.id))
        await s.commit()
        return found


async def auto_store(make_store: Any, **chat: Any) -> Store:
    store: Store = await make_store(settings={"routing": "auto", "chat_routing": chat})
    return store


async def set_cap(db: Database, user: User, cap: int) -> None:
    async with db.sessionmaker() as s:
        found = await s.get(User, user.id)
        assert found is not None
        found.max_concurrent_chats = cap
        await s.commit()


async def resolve(db: Database, agent: User, conversation_id: int) -> None:
    async with db.sessionmaker() as s:
        await service.resolve_conversation(
            s, Actor("user", agent.id, agent.display_name), conversation_id
        )
        await s.commit()


async def reply(db: Database, agent: User, conversation_id: int, text: str = "好的") -> None:
    async with db.sessionmaker() as s:
        await service.post_agent_message(
            s,
            Actor("user", agent.id, agent.display_name),
            conversation_id,
            client_msg_id=f"a-{agent.id}-{text}",
            body=text,
        )
        await s.commit()


async def test_chats_go_only_to_members_of_the_entry_group(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    sales = await make_user("agent", display_name="售前小王")
    care = await make_user("agent", display_name="售后小李")
    presales = await group(db, "售前", sales)
    aftersales = await group(db, "售后", care)
    store = await auto_store(
        make_store,
        default_group_id=presales.id,
        entries=[{"topic": "aftersales", "label": "售后服务", "group_id": aftersales.id}],
    )
    for agent in (sales, care):
        await online(db, agent)

    # Even with more open chats than the after-sales agent, pre-sales gets pre-sales chats.
    for n in range(3):
        chat = await write(db, contact(store), f"有货吗{n}")
        assert chat.group_id == presales.id
        assert await assignee(db, chat.id) == sales.id
    returns = await write(db, contact(store), "我要退货", topic="aftersales")
    assert returns.group_id == aftersales.id
    assert await assignee(db, returns.id) == care.id

    # A full group keeps its chats waiting; the other group's free agent does not take them.
    await set_cap(db, sales, 3)
    waiting = await write(db, contact(store), "还有别的颜色吗")
    assert await assignee(db, waiting.id) is None


async def test_a_group_without_members_falls_back_to_any_agent(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    empty = await group(db, "投诉专家组")
    agent = await make_user("agent")
    await online(db, agent)
    store = await auto_store(make_store, default_group_id=empty.id)
    chat = await write(db, contact(store))
    assert chat.group_id == empty.id
    assert await assignee(db, chat.id) == agent.id


async def test_round_robin_takes_turns_whatever_the_load(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    first = await make_user("agent", display_name="甲")
    second = await make_user("agent", display_name="乙")
    for agent in (first, second):
        await set_cap(db, agent, 20)
        await online(db, agent)
    store = await auto_store(make_store, strategy="round_robin")
    got = [await assignee(db, (await write(db, contact(store), f"q{n}")).id) for n in range(4)]
    assert got[0] != got[1] and got[0] == got[2] and got[1] == got[3]

    # The second agent resolves all theirs: least busy would now favour them, round robin
    # gives the next chat to whoever's turn it is.
    async with db.sessionmaker() as s:
        for conversation in list(await s.scalars(_open_of(got[1]))):
            await service.resolve_conversation(s, Actor("user", got[1], ""), conversation.id)
        await s.commit()
    nxt = [await assignee(db, (await write(db, contact(store), f"r{n}")).id) for n in range(2)]
    assert nxt == [got[0], got[1]]


def _open_of(user_id: int | None) -> Any:
    from sqlalchemy import select

    return select(Conversation).where(
        Conversation.assignee_id == user_id, Conversation.status == "open"
    )


async def test_least_busy_fills_the_emptier_agent_first(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    loaded = await make_user("agent", display_name="忙")
    idle = await make_user("agent", display_name="闲")
    store = await auto_store(make_store, strategy="least_busy")
    await online(db, loaded)
    for n in range(2):  # only `loaded` is online: both go there
        assert await assignee(db, (await write(db, contact(store), f"p{n}")).id) == loaded.id
    await online(db, idle)
    got = [await assignee(db, (await write(db, contact(store), f"q{n}")).id) for n in range(2)]
    assert got == [idle.id, idle.id]


async def test_vip_customers_are_handed_out_first_and_see_it_in_the_queue(
    db: Database, make_store: Any, make_user: MakeUser, make_customer: Any
) -> None:
    agent = await make_user("agent")
    await set_cap(db, agent, 1)
    await online(db, agent)
    store = await auto_store(make_store)
    busy = await write(db, contact(store), "先来的")
    assert await assignee(db, busy.id) == agent.id
    early = await write(db, contact(store), "普通顾客一")
    vip = await write(
        db, contact(store, await make_customer(store, tier="vip")), "VIP 顾客", topic=""
    )
    late = await write(db, contact(store), "普通顾客二")

    async with db.sessionmaker() as s:
        states = await queue.queue_states(s)
    assert [states[c.id].ahead for c in (vip, early, late)] == [0, 1, 2]
    assert all(states[c.id].eta_minutes >= 1 for c in (vip, early, late))

    await resolve(db, agent, busy.id)  # a slot frees: the VIP goes first
    assert await assignee(db, vip.id) == agent.id
    assert await assignee(db, early.id) is None
    async with db.sessionmaker() as s:
        state = await queue.queue_state(s, early.id)
    assert state is not None and state.ahead == 0 and state.frame()["position"] == 1


async def test_vip_first_can_be_switched_off(
    db: Database, make_store: Any, make_user: MakeUser, make_customer: Any
) -> None:
    store = await auto_store(make_store, vip_first=False)
    early = await write(db, contact(store), "普通顾客")
    vip = await write(db, contact(store, await make_customer(store, tier="vip")), "VIP")
    async with db.sessionmaker() as s:
        states = await queue.queue_states(s)
    assert (states[early.id].ahead, states[vip.id].ahead) == (0, 1)


async def test_returning_customer_goes_back_to_their_agent_if_available(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    mine = await make_user("agent", display_name="老朋友")
    other = await make_user("agent", display_name="新同事")
    store = await auto_store(make_store, sticky_days=7)
    await online(db, mine)
    shopper = contact(store)
    chat = await write(db, shopper, "第一次")
    await reply(db, mine, chat.id)
    await resolve(db, mine, chat.id)
    # `mine` is busier than the newcomer, yet the returning customer comes back to them.
    await write(db, contact(store), "别人的问题")
    await online(db, other)
    again = await write(db, shopper, "又是我")
    assert again.id == chat.id
    assert await assignee(db, chat.id) == mine.id

    # Their agent went away: the reopened chat does not wait on them.
    await resolve(db, mine, chat.id)
    await online(db, mine, "away")
    await write(db, shopper, "第三次")
    assert await assignee(db, chat.id) == other.id


async def test_sticky_window_zero_routes_normally(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    mine = await make_user("agent")
    other = await make_user("agent")
    store = await auto_store(make_store, sticky_days=0)
    await online(db, mine)
    shopper = contact(store)
    chat = await write(db, shopper, "第一次")
    await reply(db, mine, chat.id)
    await resolve(db, mine, chat.id)
    await write(db, contact(store), "别人的问题")  # mine now has one open chat
    await online(db, other)
    await write(db, shopper, "又是我")
    assert await assignee(db, chat.id) == other.id


async def test_busy_agents_keep_their_chats_but_get_no_new_ones(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    store = await auto_store(make_store)
    await online(db, agent, "busy")
    chat = await write(db, contact(store))
    assert await assignee(db, chat.id) is None
    async with db.sessionmaker() as s:
        assert await routing.anyone_online(s)  # present: the widget does not go offline
        presence = await s.get(AgentPresence, agent.id)
        assert routing.shown_status(presence) == "busy"
        await routing.socket_gone(s, agent.id)
        assert routing.shown_status(presence) == "offline"


async def test_agents_take_unassigned_and_pass_on_their_own_only(
    db: Database, make_store: Any, login_as: Any
) -> None:
    store = await make_store()
    first = await login_as("agent")
    second = await login_as("agent")
    boss = await login_as("supervisor")
    chat = await write(db, contact(store))
    url = f"/api/v1/conversations/{chat.id}/assign"

    # Give an unassigned chat to a colleague: not for agents.
    refused = await first.post(url, json={"assignee_id": second.user.id})
    assert refused.status_code == 403 and "主管" in refused.json()["title_zh"]
    took = await first.post(url, json={"assignee_id": first.user.id})
    assert took.status_code == 200 and took.json()["assignee_id"] == first.user.id
    # Someone else's chat: neither taking it nor passing it on.
    assert (await second.post(url, json={"assignee_id": second.user.id})).status_code == 403
    assert (await second.post(url, json={"assignee_id": None})).status_code == 403
    # The owner passes it on; a supervisor reassigns anything.
    passed = await first.post(url, json={"assignee_id": second.user.id})
    assert passed.status_code == 200 and passed.json()["assignee_id"] == second.user.id
    moved = await boss.post(url, json={"assignee_id": first.user.id})
    assert moved.status_code == 200 and moved.json()["assignee_id"] == first.user.id


async def test_sweep_routes_chats_whose_event_was_missed(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    from kefu.conversations import tasks

    store = await auto_store(make_store)
    chat = await write(db, contact(store))
    agent = await make_user("agent")
    await online(db, agent)  # nobody drained the queue when they came online
    assert await tasks.route_waiting() == [chat.id]
    assert await assignee(db, chat.id) == agent.id


async def test_a_reconnect_is_not_undone_by_the_old_socket_closing(
    db: Database, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    async with db.sessionmaker() as s:
        old_socket = await routing.touch_presence(s, agent.id)
        await s.commit()
        await routing.touch_presence(s, agent.id)  # the new socket of the same agent
        await s.commit()
        await routing.socket_gone(s, agent.id, old_socket)  # the old one's close comes late
        await s.commit()
        presence = await s.get(AgentPresence, agent.id)
        assert presence is not None and routing.shown_status(presence) == "online"
        # The last socket closing does take the agent offline.
        await routing.socket_gone(s, agent.id, presence.last_seen_at)
        await s.commit()
        await s.refresh(presence)
        assert routing.shown_status(presence) == "offline"
