"""Order-service JSON API under /api/v1/orderservice: the same lists and actions as the pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.orderservice import checks, lists, work
from kefu.orderservice.schemas import (
    ActionOut,
    AddressAnswerIn,
    AddressIn,
    AddressTaskOut,
    AskIn,
    AskOut,
    CheckListOut,
    CheckOrderOut,
    FlagOut,
    MergeRequestIn,
    ResolveFlagIn,
    StockoutAnswerIn,
    StockoutOut,
)
from kefu.store.connector import NewAddress

router = APIRouter(prefix="/orderservice", tags=["orderservice"])

OrdersReader = Annotated[Principal, Require(Permission.orders_read)]
OrdersWriter = Annotated[Principal, Require(Permission.orders_read, Permission.orders_write)]


def _work(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "store_id": row.store_id,
        "customer_id": row.customer_id,
        "note": row.note,
        "recorded_by_name": row.recorded_by_name,
        "recorded_at": row.recorded_at,
        "asked_at": row.asked_at,
        "ask_count": row.ask_count,
    }


async def _flag_out(session: DbSession, flag: Any) -> FlagOut:
    return FlagOut(
        **_work(flag),
        kind=flag.kind,
        status=flag.status,
        sku_id=flag.sku_id,
        order_ids=await work.flag_order_ids(session, flag.id),
    )


@router.get("/checks")
async def daily_checks(
    session: DbSession,
    principal: OrdersReader,
    tab: Literal["unpaid", "unshipped"] = "unshipped",
    store_id: int | None = None,
    older_than_hours: Annotated[int | None, Query(ge=1, le=24 * 365)] = None,
    tier: Literal["normal", "vip", "svip"] | None = None,
    flagged: bool = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> CheckListOut:
    result = await checks.list_checks(
        session,
        checks.CheckFilter(tab, store_id, older_than_hours, tier, flagged, page),
    )
    return CheckListOut(
        tab=tab,
        page=result.page,
        has_next=result.has_next,
        counts=result.counts,
        items=[
            CheckOrderOut(
                order_id=r.order.id,
                order_no=r.order.order_no,
                store_id=r.store.id,
                status=r.order.status,
                since=r.since,
                age_hours=round(r.age_hours, 2),
                customer_id=r.customer.id if r.customer else None,
                customer_tier=r.customer.tier if r.customer else None,
                open_flags=r.open_flags,
                open_stockouts=r.open_stockouts,
            )
            for r in result.items
        ],
    )


@router.get("/flags")
async def flags(
    session: DbSession,
    principal: OrdersReader,
    status: str | None = "open",
    kind: str | None = None,
    order_id: int | None = None,
) -> list[FlagOut]:
    views = await lists.list_flags(session, status=status or None, kind=kind, order_id=order_id)
    return [await _flag_out(session, v.flag) for v in views]


@router.post("/flags/{flag_id}/resolve")
async def resolve_flag(
    flag_id: int, body: ResolveFlagIn, session: DbSession, principal: OrdersWriter
) -> FlagOut:
    flag, _ = await work.resolve_flag(
        session,
        principal.actor,
        flag_id,
        body.status,
        note=body.note,
        cancel_order_id=body.cancel_order_id,
    )
    return await _flag_out(session, flag)


@router.post("/merge-requests", status_code=201)
async def merge_request(
    body: MergeRequestIn, session: DbSession, principal: OrdersWriter
) -> FlagOut:
    flag = await work.request_merge(session, principal.actor, body.order_ids, note=body.note)
    return await _flag_out(session, flag)


@router.get("/stockouts")
async def stockouts(
    session: DbSession, principal: OrdersReader, answered: bool = False
) -> list[StockoutOut]:
    groups = await lists.list_stockouts(session, answered=answered)
    return [
        StockoutOut(
            **_work(v.case), order_id=v.case.order_id, sku_id=v.case.sku_id, choice=v.case.choice
        )
        for g in groups
        for v in g.cases
    ]


@router.post("/stockouts/{case_id}/answer")
async def stockout_answer(
    case_id: int, body: StockoutAnswerIn, session: DbSession, principal: OrdersWriter
) -> StockoutOut:
    case = await work.record_stockout_choice(
        session, principal.actor, case_id, body.choice, note=body.note
    )
    return StockoutOut(
        **_work(case), order_id=case.order_id, sku_id=case.sku_id, choice=case.choice
    )


@router.get("/address-confirmations")
async def address_tasks(
    session: DbSession, principal: OrdersReader, status: str = "pending"
) -> list[AddressTaskOut]:
    views = await lists.list_address_tasks(session, status=status)
    return [
        AddressTaskOut(**_work(v.task), order_id=v.task.order_id, status=v.task.status)
        for v in views
    ]


@router.post("/address-confirmations/{task_id}/answer")
async def address_answer(
    task_id: int, body: AddressAnswerIn, session: DbSession, principal: OrdersWriter
) -> AddressTaskOut:
    task = await work.record_address_answer(
        session, principal.actor, task_id, body.status, note=body.note
    )
    return AddressTaskOut(**_work(task), order_id=task.order_id, status=task.status)


@router.post("/{kind}/{row_id}/ask")
async def ask(
    kind: Literal["flag", "stockout", "address"],
    row_id: int,
    body: AskIn,
    session: DbSession,
    principal: OrdersWriter,
) -> AskOut:
    """Post the question into the buyer's latest chat; without one, `posted` is false and
    `text` is what to send on the shop's platform."""
    result = await work.ask(session, principal.actor, kind, row_id, ask_no=body.ask_no)
    return AskOut(
        text=result.text,
        conversation_id=result.conversation_id,
        posted=result.conversation_id is not None,
    )


@router.post("/orders/{order_id}/address")
async def change_address(
    order_id: int, body: AddressIn, session: DbSession, principal: OrdersWriter
) -> ActionOut:
    """Change the receiving address before shipment (409 once shipped) and mark the order's
    address task as changed."""
    result = await work.change_address(
        session, principal.actor, order_id, NewAddress(**body.model_dump())
    )
    return ActionOut(
        action=result.action,
        order_id=result.order_id,
        message_zh=result.message_zh,
        message_en=result.message_en,
    )
