"""Workspace routes: transfer, snooze, mentions and search over the agent API, the inbox
views, and the supervisors' team board."""

from __future__ import annotations

import httpx
from sqlalchemy import insert

from kefu.accounts.models import Group, user_groups
from kefu.core.db import Database
from kefu.store.models import Store
from tests.conversations.test_pages import _chat
from tests.fixtures.factories import LoginAs


async def test_transfer_with_note_moves_the_chat_to_the_colleagues_list(
    db: Database, login_as: LoginAs, chat_store: Store
) -> None:
    cid = await _chat(db, chat_store, text="我要换货")
    a, b, c = await login_as("agent"), await login_as("agent"), await login_as("agent")
    a_id, b_id = a.user.id, b.user.id  # type: ignore[attr-defined]
    await a.post(f"/api/v1/conversations/{cid}/assign", json={"assignee_id": a_id})

    refused = await c.post(f"/api/v1/conversations/{cid}/transfer", json={"assignee_id": b_id})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "主管" in refused.json()["title"]
    empty = await a.post(f"/api/v1/conversations/{cid}/transfer", json={"note": "x"})
    assert empty.status_code == 422 and "客服或分组" in empty.json()["title"]

    moved = await a.post(
        f"/api/v1/conversations/{cid}/transfer",
        json={"assignee_id": b_id, "note": "尺码问题，已核对订单"},
    )
    assert moved.status_code == 200 and moved.json()["assignee_id"] == b_id
    mine = (await b.get("/api/v1/conversations?view=mine")).json()
    assert [i["id"] for i in mine["items"]] == [cid] and mine["counts"]["mine"] == 1
    detail = (await b.get(f"/api/v1/conversations/{cid}")).json()
    kinds = [(e["kind"], (e["message"] or {}).get("body")) for e in detail["events"]]
    assert ("note", "尺码问题，已核对订单") in kinds and kinds[-1][0] == "transferred"

    directory = (await a.get("/api/v1/agent/directory")).json()
    assert b_id in [x["id"] for x in directory["agents"]]


async def test_snooze_presets_custom_time_errors_and_wake(
    db: Database, login_as: LoginAs, chat_store: Store
) -> None:
    cid = await _chat(db, chat_store)
    agent = await login_as("agent")
    bad = await agent.post(
        f"/api/v1/conversations/{cid}/snooze", json={"until": "2020-01-01T00:00:00+08:00"}
    )
    assert bad.status_code == 422 and "30 天" in bad.json()["title"]
    assert (await agent.post(f"/api/v1/conversations/{cid}/snooze", json={})).status_code == 422
    snoozed = await agent.post(f"/api/v1/conversations/{cid}/snooze", json={"preset": "tomorrow"})
    assert snoozed.status_code == 200
    assert snoozed.json()["status"] == "snoozed" and snoozed.json()["snoozed_until"]
    listed = (await agent.get("/api/v1/conversations?status=snoozed")).json()
    assert [i["id"] for i in listed["items"]] == [cid]
    page = await agent.get("/inbox?status=snoozed")
    assert "Until" in page.text or "暂缓至" in page.text
    woken = await agent.post(f"/api/v1/conversations/{cid}/wake")
    assert woken.json()["status"] == "open"


async def test_mention_in_a_note_shows_in_the_colleagues_mentions_view_until_read(
    db: Database, login_as: LoginAs, chat_store: Store
) -> None:
    cid = await _chat(db, chat_store)
    a, b = await login_as("agent"), await login_as("agent")
    b_name = b.user.display_name  # type: ignore[attr-defined]
    sent = await a.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"client_id": "n1", "body": f"@{b_name} 这个退款你来跟进", "audience": "internal"},
    )
    assert sent.status_code == 201
    view = (await b.get("/api/v1/conversations?view=mentions")).json()
    assert [i["id"] for i in view["items"]] == [cid] and view["counts"]["mentions"] == 1
    page = await b.get("/inbox?view=mentions")
    assert 'class="inbox-item' in page.text and "inbox-mention" in page.text
    await b.post(f"/api/v1/conversations/{cid}/read")
    assert (await b.get("/api/v1/conversations")).json()["counts"]["mentions"] == 0


async def test_inbox_page_has_group_views_search_and_timers(
    db: Database, login_as: LoginAs, chat_store: Store, make_customer: object
) -> None:
    agent = await login_as("agent")
    async with db.sessionmaker() as s:
        group = Group(code="presale", name="售前咨询")
        s.add(group)
        await s.flush()
        await s.execute(
            insert(user_groups).values(user_id=agent.user.id, group_id=group.id)  # type: ignore[attr-defined]
        )
        await s.commit()
    cid = await _chat(db, chat_store, text="这件衣服有XL码吗")
    other = await _chat(db, chat_store, text="什么时候发货")
    page = await agent.get("/inbox")
    assert "售前咨询" in page.text and f'data-count="group-{group.id}"' in page.text
    assert 'data-target="60"' in page.text and "data-waiting=" in page.text
    found = await agent.get("/inbox/_list?q=XL码")
    assert f'data-id="{cid}"' in found.text and f'data-id="{other}"' not in found.text
    nothing = await agent.get("/inbox/_list?q=退货地址")
    assert "退货地址" in nothing.text and "inbox-item" not in nothing.text
    pane = await agent.get(f"/inbox/_pane/{cid}")
    assert 'data-action="transfer"' in pane.text and "data-snooze-menu" in pane.text
    assert 'id="chat-collision"' in pane.text


async def test_team_board_is_for_supervisors(
    db: Database, login_as: LoginAs, chat_store: Store
) -> None:
    agent = await login_as("agent")
    supervisor = await login_as("supervisor")
    assert (await agent.get("/inbox/team", headers={"accept": "text/html"})).status_code == 403
    board = await supervisor.get("/inbox/team")
    assert board.status_code == 200
    assert agent.user.display_name in board.text  # type: ignore[attr-defined]
    assert 'data-testid="team-table"' in board.text
    assert (await supervisor.get("/inbox/team/_board")).status_code == 200
    inbox_page = await supervisor.get("/inbox")
    assert 'href="/inbox/team"' in inbox_page.text
    assert 'href="/inbox/team"' not in (await agent.get("/inbox")).text


async def test_unauthenticated_workspace_routes_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/conversations/1/transfer", json={})).status_code in (
        401,
        403,
    )
    assert (await client.get("/api/v1/agent/directory")).status_code == 401
