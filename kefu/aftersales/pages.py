"""After-sales pages: agents' case list and detail, the new-case form from an order, and the
warehouse view (expected returns, receive, inspect with photos). The buyer's self-service pages
live in selfservice.py and are included here.

Pages call the same services as the JSON API. Writes are plain forms that redirect back with a
flash message, so a refused action (a wrong status, an amount above the cap) is explained in
the page; each write runs in a savepoint so a refusal leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.aftersales import photos, selfservice, service
from kefu.aftersales.enums import (
    CASE_SOURCE_LABELS,
    CASE_STATUS_LABELS,
    CASE_STATUS_TONES,
    CONDITION_ISSUE_LABELS,
    REQUEST_KIND_LABELS,
    REQUEST_REASON_LABELS,
    CaseSource,
    CaseStatus,
    PhotoStage,
    RequestKind,
)
from kefu.aftersales.schemas import CaseCreate, CaseFilters, OverrideIn
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, field_errors
from kefu.core.i18n import gettext as _
from kefu.store.models import Order, Store
from kefu.web.forms import label_picker
from kefu.web.templating import flash, pick, render

router = APIRouter(include_in_schema=False)
router.include_router(selfservice.router)

Reader = Annotated[Principal, Require(Permission.aftersales_read)]
Writer = Annotated[Principal, Require(Permission.aftersales_read, Permission.aftersales_write)]
Approver = Annotated[Principal, Require(Permission.aftersales_read, Permission.aftersales_approve)]
Warehouse = Annotated[
    Principal, Require(Permission.aftersales_read, Permission.aftersales_warehouse)
]


_label = label_picker


def helpers() -> dict[str, Any]:
    """Labels shared by the agents' pages and the buyer's pages."""
    return {
        "status_label": _label(CASE_STATUS_LABELS),
        "status_tone": lambda s: CASE_STATUS_TONES.get(s, "grey"),
        "kind_label": _label(REQUEST_KIND_LABELS),
        "reason_label": _label(REQUEST_REASON_LABELS),
        "source_label": _label(CASE_SOURCE_LABELS),
        "issue_label": _label(CONDITION_ISSUE_LABELS),
        "statuses": list(CaseStatus),
        "kinds": list(REQUEST_KIND_LABELS),
        "reasons": list(REQUEST_REASON_LABELS),
        "issues": list(CONDITION_ISSUE_LABELS),
    }


def problem_text(exc: Exception) -> str:
    if isinstance(exc, KefuError):
        return pick(exc.zh, exc.en)
    if isinstance(exc, ValidationError):
        errors = field_errors(list(exc.errors()))
        return "；".join(
            f"{e['field']}: {pick(e['message_zh'], e['message_en'])}".lstrip(": ") for e in errors
        )
    raise exc


async def _form(request: Request) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    files: list[tuple[str, bytes]] = []
    for value in form.getlist("photos"):
        if isinstance(value, UploadFile) and value.filename:
            files.append((value.filename, await value.read()))
    return fields, files


async def _attempt(
    request: Request,
    session: DbSession,
    back: str,
    action: Callable[[], Awaitable[Any]],
    done: str,
) -> Response:
    try:
        async with session.begin_nested():
            await action()
    except (KefuError, ValidationError) as exc:
        flash(request, problem_text(exc), "error")
    else:
        flash(request, done)
    return RedirectResponse(back, status_code=303)


# ---- list -----------------------------------------------------------------------------------


def _filters(request: Request) -> tuple[CaseFilters, list[str]]:
    raw = {k: v for k, v in request.query_params.items() if v.strip()}
    try:
        return CaseFilters.model_validate(raw), []
    except ValidationError:
        return CaseFilters(), [_("Some filters were not understood and were ignored.")]


@router.get("/aftersales", response_class=HTMLResponse)
async def case_list(request: Request, session: DbSession, principal: Reader) -> Response:
    filters, problems = _filters(request)
    rows, has_more = await service.list_cases(session, filters)
    now = utcnow()
    orders = await _orders(session, {c.order_id for c in rows})
    current = {k: v for k, v in request.query_params.items() if k != "page" and v.strip()}
    return render(
        request,
        "aftersales/list.html",
        {
            "section": "aftersales",
            "rows": rows,
            "orders": orders,
            "filters": filters,
            "problems": problems,
            "has_more": has_more,
            "overdue": lambda c: service.is_overdue(c, now),
            "overdue_count": await service.count_overdue(session, now),
            "page_qs": lambda page: urlencode({**current, "page": page}),
            **helpers(),
        },
    )


async def _orders(session: DbSession, ids: set[int]) -> dict[int, Order]:
    if not ids:
        return {}
    rows = await session.scalars(select(Order).where(Order.id.in_(ids)))
    return {o.id: o for o in rows.all()}


# ---- warehouse --------------------------------------------------------------------------------


@router.get("/aftersales/warehouse", response_class=HTMLResponse)
async def warehouse(request: Request, session: DbSession, principal: Warehouse) -> Response:
    rows = await service.expected_returns(session)
    orders = await _orders(session, {c.order_id for c in rows})
    lines = {c.id: await service.case_lines(session, c.id) for c in rows}
    return render(
        request,
        "aftersales/warehouse.html",
        {
            "section": "aftersales",
            "incoming": [c for c in rows if c.status != CaseStatus.received],
            "to_inspect": [c for c in rows if c.status == CaseStatus.received],
            "orders": orders,
            "lines": lines,
            **helpers(),
        },
    )


# ---- new case from an order ---------------------------------------------------------------------


async def _new_page(
    request: Request,
    session: DbSession,
    order_id: int,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = await service.load_order_context(session, order_id)
    return render(
        request,
        "aftersales/new.html",
        {
            "section": "aftersales",
            "order": ctx.order,
            "items": ctx.items,
            "store": ctx.store,
            "existing": await service.cases_for_order(session, order_id),
            "values": values,
            "error": error,
            **helpers(),
        },
        status_code=status_code,
    )


@router.get("/aftersales/new", response_class=HTMLResponse)
async def new_case_form(
    request: Request, session: DbSession, principal: Writer, order_id: int
) -> Response:
    return await _new_page(request, session, order_id, {"kind": "return_refund"})


def case_create_from_form(
    order_id: int, form: dict[str, str], item_ids: list[int], source: str = "agent"
) -> CaseCreate:
    """The request as the form put it: `qty_<item id>` per ticked line (`item` checkboxes)."""
    lines = [
        {"order_item_id": item_id, "quantity": int(form.get(f"qty_{item_id}") or 1)}
        for item_id in item_ids
    ]
    data: dict[str, Any] = {
        "order_id": order_id,
        "kind": form.get("kind", ""),
        "reason": form.get("reason", ""),
        "lines": lines,
        "description": form.get("description", ""),
        "condition": [v for k, v in form.items() if k.startswith("issue_")],
    }
    if (form.get("override_reason") or "").strip():
        data["override"] = {"reason": form["override_reason"]}
    return CaseCreate.model_validate(data)


def ticked_items(form_items: list[Any]) -> list[int]:
    return [int(v) for v in form_items if isinstance(v, str) and v.isdigit()]


@router.post("/aftersales/new")
async def new_case_submit(request: Request, session: DbSession, principal: Writer) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    order_id = int(form.get("order_id") or 0)
    try:
        data = case_create_from_form(order_id, form, ticked_items(raw.getlist("item")))
        async with session.begin_nested():
            created = await service.create_case(
                session,
                principal.actor,
                data,
                source=CaseSource.agent,
                may_override=principal.can(Permission.aftersales_approve),
                created_by_id=principal.user.id,
            )
    except (KefuError, ValidationError) as exc:
        return await _new_page(request, session, order_id, form, problem_text(exc), 422)
    flash(request, _("After-sales case %(n)s created.") % {"n": created.case.number})
    return RedirectResponse(f"/aftersales/{created.case.id}", status_code=303)


# ---- one case ----------------------------------------------------------------------------------


@router.get("/aftersales/{case_id}", response_class=HTMLResponse)
async def case_detail(
    request: Request, case_id: int, session: DbSession, principal: Reader
) -> Response:
    case = await service.get_case(session, case_id)
    order = await session.get(Order, case.order_id)
    store = await session.get(Store, case.store_id)
    all_photos = await photos.case_photos(session, case.id)
    return render(
        request,
        "aftersales/detail.html",
        {
            "section": "aftersales",
            "case": case,
            "order": order,
            "store": store,
            "lines": await service.case_lines(session, case.id),
            "events": await service.case_events(session, case.id),
            "photos": all_photos,
            "decision": case.decision or {},
            "overdue": service.is_overdue(case, utcnow()),
            "may_approve": principal.can(Permission.aftersales_approve),
            "may_write": principal.can(Permission.aftersales_write),
            "may_warehouse": principal.can(Permission.aftersales_warehouse),
            "RequestKind": RequestKind,
            **helpers(),
        },
    )


@router.get("/aftersales/{case_id}/photos/{photo_id}")
async def case_photo(
    case_id: int, photo_id: int, session: DbSession, principal: Reader
) -> Response:
    path, content_type = await photos.photo_file(session, case_id, photo_id)
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "private"})


def _back(case_id: int, form: dict[str, str]) -> str:
    back = form.get("back") or ""
    return back if back.startswith("/aftersales") else f"/aftersales/{case_id}"


@router.post("/aftersales/{case_id}/approve")
async def approve(
    request: Request, case_id: int, session: DbSession, principal: Approver
) -> Response:
    form, _files = await _form(request)
    reason = (form.get("override_reason") or "").strip()
    amount = (form.get("override_amount") or "").strip()

    async def act() -> None:
        override = OverrideIn(reason=reason, amount=amount or None) if reason else None
        await service.approve(
            session, principal.actor, case_id, note=form.get("note", ""), override=override
        )

    return await _attempt(request, session, _back(case_id, form), act, _("Case approved."))


@router.post("/aftersales/{case_id}/reject")
async def reject(
    request: Request, case_id: int, session: DbSession, principal: Approver
) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.reject(session, principal.actor, case_id, form.get("reason", "")),
        _("Case rejected."),
    )


@router.post("/aftersales/{case_id}/tracking")
async def tracking(
    request: Request, case_id: int, session: DbSession, principal: Writer
) -> Response:
    form, _files = await _form(request)

    async def act() -> None:
        from kefu.aftersales.schemas import TrackingIn

        data = TrackingIn(carrier=form.get("carrier", ""), tracking_no=form.get("tracking_no", ""))
        await service.enter_return_tracking(
            session, principal.actor, case_id, carrier=data.carrier, tracking_no=data.tracking_no
        )

    return await _attempt(request, session, _back(case_id, form), act, _("Tracking number saved."))


@router.post("/aftersales/{case_id}/receive")
async def receive(
    request: Request, case_id: int, session: DbSession, principal: Warehouse
) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.receive(session, principal.actor, case_id, note=form.get("note", "")),
        _("Parcel received."),
    )


@router.post("/aftersales/{case_id}/inspect")
async def inspect(
    request: Request, case_id: int, session: DbSession, principal: Warehouse
) -> Response:
    form, files = await _form(request)

    async def act() -> None:
        case = await service.inspect(
            session,
            principal.actor,
            case_id,
            passed=form.get("result") == "pass",
            note=form.get("note", ""),
        )
        await photos.add_photos(session, principal.actor, case, files, PhotoStage.inspection)

    return await _attempt(request, session, _back(case_id, form), act, _("Inspection recorded."))


@router.post("/aftersales/{case_id}/refund")
async def refund(request: Request, case_id: int, session: DbSession, principal: Writer) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.refund(
            session,
            principal.actor,
            case_id,
            override_reason=form.get("override_reason") or None,
            may_override=principal.can(Permission.aftersales_approve),
        ),
        _("Refund paid."),
    )


@router.post("/aftersales/{case_id}/reship")
async def reship(request: Request, case_id: int, session: DbSession, principal: Writer) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.reship(
            session,
            principal.actor,
            case_id,
            carrier=form.get("carrier", ""),
            tracking_no=form.get("tracking_no", ""),
        ),
        _("Reshipment created."),
    )


@router.post("/aftersales/{case_id}/close")
async def close(request: Request, case_id: int, session: DbSession, principal: Writer) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.close(session, principal.actor, case_id, reason=form.get("reason", "")),
        _("Case closed."),
    )


@router.post("/aftersales/{case_id}/notes")
async def note(request: Request, case_id: int, session: DbSession, principal: Writer) -> Response:
    form, _files = await _form(request)
    return await _attempt(
        request,
        session,
        _back(case_id, form),
        lambda: service.add_note(session, principal.actor, case_id, form.get("note", "")),
        _("Note added."),
    )
