"""The ticket category tree (e.g. 物流 › 延迟 › 中转滞留): what reports group problems by.

At most three levels, names unique among siblings, and a node can only be removed when it
has no children (tickets that used it keep their history and lose only the category). The
tree is small (tens of nodes), so it is read whole and arranged in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.tickets.models import Ticket, TicketCategory

MAX_DEPTH = 3
SEPARATOR = " › "


@dataclass(frozen=True)
class CategoryNode:
    id: int
    name: str
    parent_id: int | None
    depth: int  # 0 for the top level
    path: str  # "物流 › 延迟"
    children: int
    tickets: int


async def tree(session: AsyncSession) -> list[CategoryNode]:
    """Every category in display order: each parent followed by its children."""
    rows = list(
        await session.scalars(
            select(TicketCategory).order_by(TicketCategory.sort, TicketCategory.name)
        )
    )
    counts = dict(
        (
            await session.execute(
                select(Ticket.category_id, func.count())
                .where(Ticket.category_id.is_not(None))
                .group_by(Ticket.category_id)
            )
        ).all()
    )
    by_parent: dict[int | None, list[TicketCategory]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)
    out: list[CategoryNode] = []

    def walk(parent: int | None, depth: int, prefix: str) -> None:
        for row in by_parent.get(parent, []):
            path = f"{prefix}{SEPARATOR}{row.name}" if prefix else row.name
            out.append(
                CategoryNode(
                    row.id,
                    row.name,
                    row.parent_id,
                    depth,
                    path,
                    len(by_parent.get(row.id, [])),
                    int(counts.get(row.id, 0)),
                )
            )
            walk(row.id, depth + 1, path)

    walk(None, 0, "")
    return out


def _clean(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("请填写分类名称", "Enter a category name")
    if len(name) > 60 or "›" in name:
        raise Invalid("分类名称最多 60 个字，且不能含有「›」", "At most 60 characters, no '›'")
    return name


async def _depth(session: AsyncSession, category: TicketCategory) -> int:
    depth = 0
    while category.parent_id is not None:
        parent = await session.get(TicketCategory, category.parent_id)
        if parent is None:
            break
        category = parent
        depth += 1
    return depth


async def _check_unique(
    session: AsyncSession, name: str, parent_id: int | None, exclude: int | None = None
) -> None:
    same = select(TicketCategory.id).where(
        TicketCategory.name == name,
        TicketCategory.parent_id.is_(None)
        if parent_id is None
        else TicketCategory.parent_id == parent_id,
    )
    if exclude is not None:
        same = same.where(TicketCategory.id != exclude)
    if await session.scalar(same) is not None:
        raise Conflict(f"同一级已有分类「{name}」", f"A sibling is already named {name}")


async def get_category(session: AsyncSession, category_id: int) -> TicketCategory:
    category = await session.get(TicketCategory, category_id)
    if category is None:
        raise NotFound("分类不存在", "No such category")
    return category


async def add_category(
    session: AsyncSession, actor: Actor, name: str, parent_id: int | None = None
) -> TicketCategory:
    name = _clean(name)
    if parent_id is not None:
        parent = await get_category(session, parent_id)
        if await _depth(session, parent) + 1 >= MAX_DEPTH:
            raise Invalid(
                f"分类最多 {MAX_DEPTH} 级", f"Categories go at most {MAX_DEPTH} levels deep"
            )
    await _check_unique(session, name, parent_id)
    last = await session.scalar(
        select(func.max(TicketCategory.sort)).where(
            TicketCategory.parent_id.is_(None)
            if parent_id is None
            else TicketCategory.parent_id == parent_id
        )
    )
    category = TicketCategory(name=name, parent_id=parent_id, sort=(last or 0) + 10)
    session.add(category)
    await session.flush()
    await record_audit(
        session, actor, "ticket_category.create", "ticket_category", category.id,
        after={"name": name, "parent_id": parent_id},
    )  # fmt: skip
    return category


async def rename_category(
    session: AsyncSession, actor: Actor, category_id: int, name: str
) -> TicketCategory:
    category = await get_category(session, category_id)
    name = _clean(name)
    if name == category.name:
        return category
    await _check_unique(session, name, category.parent_id, exclude=category.id)
    before = category.name
    category.name = name
    await record_audit(
        session, actor, "ticket_category.rename", "ticket_category", category.id,
        before={"name": before}, after={"name": name},
    )  # fmt: skip
    return category


async def delete_category(session: AsyncSession, actor: Actor, category_id: int) -> None:
    category = await get_category(session, category_id)
    if await session.scalar(
        select(TicketCategory.id).where(TicketCategory.parent_id == category.id).limit(1)
    ):
        raise Conflict(
            "请先删除下级分类", "Remove the sub-categories first", code="category_has_children"
        )
    await session.execute(
        update(Ticket).where(Ticket.category_id == category.id).values(category_id=None)
    )
    await session.delete(category)
    await record_audit(
        session, actor, "ticket_category.delete", "ticket_category", category_id,
        before={"name": category.name, "parent_id": category.parent_id},
    )  # fmt: skip


async def check_category(session: AsyncSession, category_id: int | None) -> None:
    """Tickets may only point at a category that exists."""
    if category_id is not None and await session.get(TicketCategory, category_id) is None:
        raise Invalid("分类不存在", "The category does not exist")
