"""The category tree: an admin builds it in settings, agents file tickets under it."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.permissions import Role
from kefu.core.errors import Conflict, Invalid
from kefu.tickets import categories
from kefu.tickets.models import Ticket
from tests.fixtures.factories import LoginAs, MakeUser
from tests.tickets.conftest import actor_of, new_ticket


async def test_tree_order_paths_and_rules(tsession: AsyncSession, make_user: MakeUser) -> None:
    admin = actor_of(await make_user(Role.admin))
    logistics = await categories.add_category(tsession, admin, "物流")
    delay = await categories.add_category(tsession, admin, " 延迟 ", logistics.id)
    stuck = await categories.add_category(tsession, admin, "中转滞留", delay.id)
    await categories.add_category(tsession, admin, "售后")
    with pytest.raises(Invalid) as exc:
        await categories.add_category(tsession, admin, "第四级", stuck.id)
    assert "最多 3 级" in exc.value.zh
    with pytest.raises(Conflict) as exc:
        await categories.add_category(tsession, admin, "延迟", logistics.id)
    assert "同一级已有分类「延迟」" in exc.value.zh
    await categories.add_category(tsession, admin, "延迟")  # another level: allowed
    with pytest.raises(Invalid):
        await categories.add_category(tsession, admin, "   ")

    nodes = await categories.tree(tsession)
    assert [(n.path, n.depth) for n in nodes] == [
        ("物流", 0), ("物流 › 延迟", 1), ("物流 › 延迟 › 中转滞留", 2), ("售后", 0), ("延迟", 0),
    ]  # fmt: skip

    ticket = await new_ticket(tsession, admin, category_id=stuck.id)
    with pytest.raises(Conflict) as exc:
        await categories.delete_category(tsession, admin, delay.id)
    assert "请先删除下级分类" in exc.value.zh
    await categories.delete_category(tsession, admin, stuck.id)
    await tsession.commit()
    await tsession.refresh(ticket)
    assert ticket.category_id is None  # the ticket stays, without the category


async def test_unknown_category_is_refused(tsession: AsyncSession, make_user: MakeUser) -> None:
    agent = actor_of(await make_user(Role.agent))
    with pytest.raises(Invalid) as exc:
        await new_ticket(tsession, agent, category_id=999)
    assert "分类不存在" in exc.value.zh


async def test_admin_edits_the_tree_and_agents_file_tickets(
    login_as: LoginAs, tsession: AsyncSession
) -> None:
    admin = await login_as(Role.admin)
    added = await admin.post("/settings/tickets/categories", data={"name": "物流"})
    assert added.status_code == 303
    page = (await admin.get("/settings/tickets")).text
    assert 'data-testid="category-tree"' in page and 'value="物流"' in page
    nodes = await categories.tree(tsession)
    top = nodes[0].id
    await admin.post("/settings/tickets/categories", data={"name": "破损", "parent_id": str(top)})
    await admin.post(f"/settings/tickets/categories/{top}/rename", data={"name": "物流快递"})
    nodes = await categories.tree(tsession)
    assert [n.path for n in nodes] == ["物流快递", "物流快递 › 破损"]
    refused = await admin.post(f"/settings/tickets/categories/{top}/delete")
    assert refused.status_code == 303
    assert "请先删除下级分类" in (await admin.get(refused.headers["location"])).text

    agent = await login_as(Role.agent)
    assert (await agent.post("/settings/tickets/categories", data={"name": "x"})).status_code == 403
    ticket = await new_ticket(tsession, actor_of(agent.user))  # type: ignore[attr-defined]
    leaf = nodes[1].id
    saved = await agent.post(f"/tickets/{ticket.id}/update", data={"category_id": str(leaf)})
    assert saved.status_code == 303
    detail = (await agent.get(f"/tickets/{ticket.id}")).text
    assert f'value="{leaf}" selected' in detail
    ticket_id = ticket.id
    await agent.post(f"/tickets/{ticket_id}/update", data={"category_id": ""})
    tsession.expire_all()
    cleared = await tsession.get(Ticket, ticket_id)
    assert cleared is not None and cleared.category_id is None
