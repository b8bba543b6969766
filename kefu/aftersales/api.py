"""After-sales cases under /api/v1/aftersales. Thin: parse, call the service, shape the answer.

Creation is idempotent by the `Idempotency-Key` header (or `external_id` in the body): a
retried POST answers 200 with the case made the first time instead of 201 with a new one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.aftersales import photos, service
from kefu.aftersales.enums import CaseSource
from kefu.aftersales.models import AftersalesCase
from kefu.aftersales.schemas import (
    ApproveIn,
    CaseCreate,
    CaseDetailOut,
    CaseEventOut,
    CaseFilters,
    CaseLineOut,
    CaseOut,
    CasePage,
    CloseIn,
    DecisionOut,
    InspectIn,
    NoteIn,
    RefundIn,
    RejectIn,
    ReshipIn,
    TrackingIn,
)
from kefu.core.deps import DbSession

router = APIRouter(prefix="/aftersales", tags=["aftersales"])

Reader = Annotated[Principal, Require(Permission.aftersales_read)]
Writer = Annotated[Principal, Require(Permission.aftersales_read, Permission.aftersales_write)]
Approver = Annotated[Principal, Require(Permission.aftersales_read, Permission.aftersales_approve)]
Warehouse = Annotated[
    Principal, Require(Permission.aftersales_read, Permission.aftersales_warehouse)
]


async def _detail(session: DbSession, case: AftersalesCase) -> CaseDetailOut:
    out = CaseDetailOut.model_validate(
        {**CaseOut.model_validate(case).model_dump(), "decision": case.decision}
    )
    out.lines = [CaseLineOut.model_validate(x) for x in await service.case_lines(session, case.id)]
    out.events = [
        CaseEventOut.model_validate(e) for e in await service.case_events(session, case.id)
    ]
    out.photo_ids = [p.id for p in await photos.case_photos(session, case.id)]
    return out


@router.post("/preview")
async def preview(body: CaseCreate, session: DbSession, principal: Reader) -> DecisionOut:
    """The policy decision a request would get now; nothing is created."""
    decision = await service.preview(session, body)
    return DecisionOut(
        allowed=decision.allowed,
        explanation_zh=decision.explain("zh_CN"),
        explanation_en=decision.explain("en"),
        refund_amount=decision.max_refundable_amount,
        decision=decision.to_dict(),
    )


@router.post("", status_code=201)
async def create_case(
    body: CaseCreate,
    session: DbSession,
    principal: Writer,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> CaseDetailOut:
    source = CaseSource.api if principal.via == "token" else CaseSource.agent
    result = await service.create_case(
        session,
        principal.actor,
        body,
        source=source,
        idempotency_key=idempotency_key,
        may_override=principal.can(Permission.aftersales_approve),
        created_by_id=principal.user.id,
    )
    if not result.created:
        response.status_code = 200
    return await _detail(session, result.case)


@router.get("")
async def list_cases(
    session: DbSession, principal: Reader, filters: Annotated[CaseFilters, Depends()]
) -> CasePage:
    rows, has_more = await service.list_cases(session, filters)
    return CasePage(
        items=[CaseOut.model_validate(c) for c in rows],
        page=filters.page,
        per_page=filters.per_page,
        has_more=has_more,
    )


@router.get("/{case_id}")
async def get_case(case_id: int, session: DbSession, principal: Reader) -> CaseDetailOut:
    return await _detail(session, await service.get_case(session, case_id))


@router.post("/{case_id}/approve")
async def approve(
    case_id: int, body: ApproveIn, session: DbSession, principal: Approver
) -> CaseDetailOut:
    case = await service.approve(
        session, principal.actor, case_id, note=body.note, override=body.override
    )
    return await _detail(session, case)


@router.post("/{case_id}/reject")
async def reject(
    case_id: int, body: RejectIn, session: DbSession, principal: Approver
) -> CaseDetailOut:
    return await _detail(
        session, await service.reject(session, principal.actor, case_id, body.reason)
    )


@router.post("/{case_id}/return-tracking")
async def return_tracking(
    case_id: int, body: TrackingIn, session: DbSession, principal: Writer
) -> CaseDetailOut:
    case = await service.enter_return_tracking(
        session, principal.actor, case_id, carrier=body.carrier, tracking_no=body.tracking_no
    )
    return await _detail(session, case)


@router.post("/{case_id}/receive")
async def receive(
    case_id: int, body: NoteIn, session: DbSession, principal: Warehouse
) -> CaseDetailOut:
    return await _detail(
        session, await service.receive(session, principal.actor, case_id, note=body.note)
    )


@router.post("/{case_id}/inspect")
async def inspect(
    case_id: int, body: InspectIn, session: DbSession, principal: Warehouse
) -> CaseDetailOut:
    case = await service.inspect(
        session, principal.actor, case_id, passed=body.passed, note=body.note
    )
    return await _detail(session, case)


@router.post("/{case_id}/refund")
async def refund(
    case_id: int, body: RefundIn, session: DbSession, principal: Writer
) -> CaseDetailOut:
    case = await service.refund(
        session,
        principal.actor,
        case_id,
        override_reason=body.override_reason,
        may_override=principal.can(Permission.aftersales_approve),
    )
    return await _detail(session, case)


@router.post("/{case_id}/reship")
async def reship(
    case_id: int, body: ReshipIn, session: DbSession, principal: Writer
) -> CaseDetailOut:
    case = await service.reship(
        session, principal.actor, case_id, carrier=body.carrier, tracking_no=body.tracking_no
    )
    return await _detail(session, case)


@router.post("/{case_id}/close")
async def close(
    case_id: int, body: CloseIn, session: DbSession, principal: Writer
) -> CaseDetailOut:
    return await _detail(
        session, await service.close(session, principal.actor, case_id, reason=body.reason)
    )


@router.post("/{case_id}/notes", status_code=201)
async def add_note(
    case_id: int, body: NoteIn, session: DbSession, principal: Writer
) -> CaseEventOut:
    return CaseEventOut.model_validate(
        await service.add_note(session, principal.actor, case_id, body.note)
    )
