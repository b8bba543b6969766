"""Ticket pages: the list (filters, saved views, bulk actions, live SLA timers), the new-ticket
form, the ticket itself, and the settings for types, SLA policies and the holiday calendar.

Pages call the same services as the JSON API. Writes are plain forms that redirect back with a
flash message, so a refused action (an invalid transition, an amount above the approval
limit) is explained in the page instead of turning into an error screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from kefu.accounts.deps import Principal, Require
from kefu.accounts.models import Group, User
from kefu.accounts.permissions import Permission
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, field_errors
from kefu.core.i18n import gettext as _
from kefu.core.masking import mask_email, mask_name, mask_phone
from kefu.store import views
from kefu.store.models import Customer, Order
from kefu.tickets import categories, complaints, portal, service, sla
from kefu.tickets import settings as ticket_settings
from kefu.tickets.enums import (
    COMPENSATION_LABELS,
    COMPENSATION_STATUS_LABELS,
    MESSAGE_KIND_LABELS,
    PRIORITY_LABELS,
    PRIORITY_ORDER,
    PRIORITY_TONES,
    RESPONSIBILITY_LABELS,
    ROOT_CAUSES,
    SEVERITY_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    STATUS_TONES,
    TRANSITIONS,
    TicketStatus,
)
from kefu.tickets.models import CalendarDay, SlaPolicy, TicketType
from kefu.tickets.schemas import (
    BulkIn,
    CompensationIn,
    ComplaintIn,
    TaskIn,
    TicketCreate,
    TicketFilters,
    TicketUpdate,
)
from kefu.web.forms import label_picker, positive_int
from kefu.web.templating import flash, pick, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Require(Permission.tickets_read)]
Writer = Annotated[Principal, Require(Permission.tickets_read, Permission.tickets_write)]
Admin = Annotated[Principal, Require(Permission.settings_manage)]


_label = label_picker


def _helpers() -> dict[str, Any]:
    return {
        "status_label": _label(STATUS_LABELS),
        "status_tone": lambda s: STATUS_TONES.get(s, "grey"),
        "priority_label": _label(PRIORITY_LABELS),
        "priority_tone": lambda p: PRIORITY_TONES.get(p, "grey"),
        "source_label": _label(SOURCE_LABELS),
        "severity_label": _label(SEVERITY_LABELS),
        "responsibility_label": _label(RESPONSIBILITY_LABELS),
        "root_cause_label": _label(ROOT_CAUSES),
        "compensation_label": _label(COMPENSATION_LABELS),
        "compensation_status_label": _label(COMPENSATION_STATUS_LABELS),
        "message_kind_label": _label(MESSAGE_KIND_LABELS),
        "due_kind_label": _label(sla.DUE_KIND_LABELS),
        "statuses": list(STATUS_LABELS),
        "priorities": PRIORITY_ORDER,
        "severities": list(SEVERITY_LABELS),
        "responsibilities": list(RESPONSIBILITY_LABELS),
        "root_causes": list(ROOT_CAUSES),
        "compensation_kinds": list(COMPENSATION_LABELS),
    }


def _type_label(types: list[TicketType]) -> Callable[[str], str]:
    names = {t.code: pick(t.name_zh, t.name_en or t.name_zh) for t in types}
    return lambda code: names.get(code, code)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


_int = positive_int


def _problem_text(exc: Exception) -> str:
    if isinstance(exc, KefuError):
        return pick(exc.zh, exc.en)
    if isinstance(exc, ValidationError):
        errors = field_errors(list(exc.errors()))
        return "；".join(
            f"{e['field']}: {pick(e['message_zh'], e['message_en'])}".lstrip(": ") for e in errors
        )
    raise exc


async def _attempt(
    request: Request, back: str, action: Callable[[], Awaitable[Any]], done: str
) -> Response:
    """Run a write; on a refusal roll back and show why, otherwise confirm."""
    session = request.state.ticket_session
    try:
        async with session.begin_nested():
            await action()
    except (KefuError, ValidationError) as exc:
        flash(request, _problem_text(exc), "error")
    else:
        flash(request, done)
    return RedirectResponse(back, status_code=303)


async def _people(session: DbSession) -> tuple[list[User], list[Group]]:
    users = list(
        (
            await session.scalars(
                select(User).where(User.is_active.is_(True)).order_by(User.display_name)
            )
        ).all()
    )
    groups = list((await session.scalars(select(Group).order_by(Group.name))).all())
    return users, groups


def _customer_view(customer: Customer | None, principal: Principal) -> dict[str, Any] | None:
    """Always masked: the full values are one audited click away on the customer's page."""
    if customer is None:
        return None
    return {
        "id": customer.id,
        "name": mask_name(customer.name),
        "nickname": customer.nickname,
        "phone": mask_phone(customer.phone),
        "tier": customer.tier,
        "city": customer.city,
    }


def _contact_view(ticket: Any, principal: Principal) -> dict[str, str] | None:
    """Who to reach for a ticket without a customer record (web form, offline message).
    Masked unless the viewer may see personal data."""
    if not (ticket.contact_name or ticket.contact_email or ticket.contact_phone):
        return None
    full = Permission.customers_reveal_pii in principal.permissions
    return {
        "name": ticket.contact_name if full else mask_name(ticket.contact_name),
        "email": (ticket.contact_email or "") if full else mask_email(ticket.contact_email),
        "phone": (ticket.contact_phone or "") if full else mask_phone(ticket.contact_phone),
    }


# ---- list -----------------------------------------------------------------------------------

_FILTER_KEYS = (
    "status",
    "priority",
    "type_code",
    "assignee",
    "group_id",
    "tag",
    "sla",
    "q",
    "sort",
)


def _filters_from(request: Request) -> tuple[TicketFilters, list[str]]:
    raw = {k: v for k, v in request.query_params.items() if v.strip()}
    problems: list[str] = []
    values: dict[str, Any] = {k: raw[k] for k in (*_FILTER_KEYS, "page") if k in raw}
    if raw.get("high_risk"):
        values["high_risk"] = True
    try:
        return TicketFilters(**values), problems
    except ValidationError:
        problems.append(_("Some filters were not understood and were ignored."))
        safe = {k: v for k, v in values.items() if k in ("status", "q")}
        return TicketFilters(**safe), problems


@router.get("/tickets", response_class=HTMLResponse)
async def ticket_list(request: Request, session: DbSession, principal: Reader) -> Response:
    filters, problems = _filters_from(request)
    rows, has_more = await service.list_tickets(session, filters, user_id=principal.user.id)
    types = await service.list_types(session, active_only=False)
    users, groups = await _people(session)
    user_names = {u.id: u.display_name for u in users}
    customer_ids = {t.customer_id for t in rows if t.customer_id}
    customers = (
        {
            c.id: _customer_view(c, principal)
            for c in (
                await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
            ).all()
        }
        if customer_ids
        else {}
    )
    now = utcnow()
    current = {k: v for k, v in request.query_params.items() if k != "page" and v.strip()}
    views = await service.saved_views(session, principal.user.id)
    quick = [
        (_("All open"), {}),
        (_("Mine"), {"assignee": "me"}),
        (_("Unassigned"), {"assignee": "none"}),
        (_("Overdue"), {"sla": "breached"}),
        (_("High-risk complaints"), {"high_risk": "1"}),
        (_("Resolved"), {"status": "resolved"}),
    ]
    return render(
        request,
        "tickets/list.html",
        {
            "section": "tickets",
            "rows": rows,
            "has_more": has_more,
            "filters": filters,
            "current": current,
            "problems": problems,
            "types": [t for t in types if t.is_active],
            "type_label": _type_label(types),
            "users": users,
            "groups": groups,
            "user_names": user_names,
            "customers": customers,
            "sla_state": lambda t: sla.sla_state(t, now),
            "now": now,
            "views": views,
            "quick": quick,
            "qs": lambda extra: urlencode(extra),
            "page_qs": lambda page: urlencode({**current, "page": page}),
            **_helpers(),
        },
    )


@router.post("/tickets/bulk")
async def ticket_bulk(request: Request, session: DbSession, principal: Writer) -> Response:
    form = await request.form()
    back = str(form.get("back") or "/tickets")
    if not back.startswith("/tickets"):
        back = "/tickets"
    ids = [int(v) for v in form.getlist("ticket_ids") if isinstance(v, str) and v.isdigit()]
    if not ids:
        flash(request, _("Select at least one ticket."), "warning")
        return RedirectResponse(back, status_code=303)
    action = str(form.get("action") or "")
    value = str(form.get("value") or "")
    try:
        data = BulkIn(
            ticket_ids=ids,
            action=action,
            assignee_id=_int(value[2:]) if value.startswith("u:") else None,
            group_id=_int(value[2:]) if value.startswith("g:") else None,
            status=value if action == "status" and value else None,
            tag=value if action in ("tag", "untag") else None,
        )
    except ValidationError as exc:
        flash(request, _problem_text(exc), "error")
        return RedirectResponse(back, status_code=303)
    result = await service.bulk_action(session, principal.actor, data)
    if result.done:
        flash(request, _("%(n)d tickets updated.") % {"n": len(result.done)})
    if result.failed:
        details = "；".join(sorted(set(result.failed.values())))
        flash(
            request, _("%(n)d tickets unchanged: ") % {"n": len(result.failed)} + details, "warning"
        )
    return RedirectResponse(back, status_code=303)


@router.post("/tickets/views")
async def ticket_view_save(request: Request, session: DbSession, principal: Reader) -> Response:
    form = await _form(request)
    filters = {k: form[k] for k in (*_FILTER_KEYS, "high_risk") if form.get(k)}
    if "high_risk" in filters:
        filters["high_risk"] = True  # type: ignore[assignment]
    shared = bool(form.get("shared")) and principal.can(Permission.groups_manage)
    try:
        view = await service.save_view(
            session, principal.actor, name=form.get("name", ""), filters=filters, shared=shared
        )
    except (KefuError, ValidationError) as exc:
        flash(request, _problem_text(exc), "error")
        return RedirectResponse("/tickets?" + urlencode(filters), status_code=303)
    flash(request, _("View saved."))
    return RedirectResponse("/tickets?" + urlencode({**view.filters, "view": view.id}), 303)


@router.post("/tickets/views/{view_id}/delete")
async def ticket_view_delete(
    request: Request, view_id: int, session: DbSession, principal: Reader
) -> Response:
    try:
        await service.delete_view(
            session, principal.actor, view_id, may_shared=principal.can(Permission.groups_manage)
        )
        flash(request, _("View deleted."))
    except KefuError as exc:
        flash(request, _problem_text(exc), "error")
    return RedirectResponse("/tickets", status_code=303)


# ---- new ----------------------------------------------------------------------------------


async def _new_page(
    request: Request, session: DbSession, values: dict[str, str], error: str | None = None
) -> Response:
    types = await service.list_types(session)
    users, groups = await _people(session)
    return render(
        request,
        "tickets/new.html",
        {
            "section": "tickets",
            "types": types,
            "users": users,
            "groups": groups,
            "values": values,
            "error": error,
            **_helpers(),
        },
        status_code=422 if error else 200,
    )


@router.get("/tickets/new", response_class=HTMLResponse)
async def ticket_new(request: Request, session: DbSession, principal: Writer) -> Response:
    values = {k: v for k, v in request.query_params.items()}
    return await _new_page(request, session, values)


@router.post("/tickets/new")
async def ticket_create(request: Request, session: DbSession, principal: Writer) -> Response:
    form = await _form(request)
    try:
        order_ids: list[int] = []
        customer_id = _int(form.get("customer_id"))
        order_no = form.get("order_no", "").strip()
        if order_no:
            order = await session.scalar(select(Order).where(Order.order_no == order_no).limit(1))
            if order is None:
                raise KefuError(
                    f"找不到订单号 {order_no}", f"No order numbered {order_no}", status=422
                )
            order_ids.append(order.id)
        custom = {
            k[len("field_") :]: v for k, v in form.items() if k.startswith("field_") and v.strip()
        }
        data = TicketCreate(
            subject=form.get("subject", ""),
            description=form.get("description", ""),
            type_code=form.get("type_code") or "inquiry",
            priority=form.get("priority") or "normal",
            customer_id=customer_id,
            order_ids=order_ids,
            tags=[t for t in form.get("tags", "").replace("，", ",").split(",")],
            custom_fields=custom,
            assignee_id=_int(form.get("assignee_id")),
            group_id=_int(form.get("group_id")),
        )
        async with session.begin_nested():
            ticket = await service.create_ticket(session, principal.actor, data, source="agent")
    except (KefuError, ValidationError) as exc:
        return await _new_page(request, session, form, _problem_text(exc))
    flash(request, _("Ticket %(number)s created.") % {"number": ticket.number})
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


# ---- detail -------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_detail(
    request: Request, ticket_id: int, session: DbSession, principal: Reader
) -> Response:
    ticket = await service.get_ticket(session, ticket_id)
    messages = await service.ticket_messages(session, ticket.id)
    transitions = await service.ticket_transitions(session, ticket.id)
    timeline: list[dict[str, Any]] = [
        {"at": m.created_at, "kind": m.kind, "author": m.author_name, "body": m.body}
        for m in messages
    ] + [
        {
            "at": t.at,
            "kind": "transition",
            "author": t.actor_name,
            "from": t.from_status,
            "to": t.to_status,
            "body": t.reason,
        }
        for t in transitions
    ]
    timeline.sort(key=lambda e: e["at"])
    types = await service.list_types(session, active_only=False)
    users, groups = await _people(session)
    customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    order_ids = await service.order_ids(session, ticket.id)
    orders = (
        list((await session.scalars(select(Order).where(Order.id.in_(order_ids)))).all())
        if order_ids
        else []
    )
    tasks = await service.list_tasks(session, ticket.id)
    complaint = await complaints.get_complaint(session, ticket.id)
    compensations = await complaints.list_compensations(session, ticket.id)
    watchers = await service.watcher_ids(session, ticket.id)
    settings = await ticket_settings.get_settings(session)
    departments = await service.department_groups(session)
    policy = await session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    now = utcnow()
    kind = next((t for t in types if t.code == ticket.type_code), None)
    category_tree = await categories.tree(session)
    return render(
        request,
        "tickets/detail.html",
        {
            "section": "tickets",
            "ticket": ticket,
            "timeline": timeline,
            "type_label": _type_label(types),
            "types": [t for t in types if t.is_active],
            "kind": kind,
            "users": users,
            "groups": groups,
            "user_names": {u.id: u.display_name for u in users},
            "group_names": {g.id: g.name for g in groups},
            "customer": _customer_view(customer, principal),
            "contact": _contact_view(ticket, principal),
            "categories": category_tree,
            "category_paths": {c.id: c.path for c in category_tree},
            "orders": orders,
            "tasks": tasks,
            "complaint": complaint,
            "compensations": compensations,
            "watching": principal.user.id in watchers,
            "watcher_count": len(watchers),
            "next_statuses": [s.value for s in TRANSITIONS[TicketStatus(ticket.status)]],
            "sla_state": sla.sla_state(ticket, now),
            "policy": policy,
            "limits": settings["approval_limits"],
            "my_limit": complaints.limit_for(principal.user.role, settings["approval_limits"]),
            "departments": departments,
            "order_status_label": views.order_status_label,
            "order_status_tone": views.order_status_tone,
            "now": now,
            **_helpers(),
        },
    )


def _back(ticket_id: int) -> str:
    return f"/tickets/{ticket_id}"


async def _write(
    request: Request,
    session: DbSession,
    ticket_id: int,
    action: Callable[[dict[str, str]], Awaitable[Any]],
    done: str,
) -> Response:
    form = await _form(request)
    request.state.ticket_session = session
    return await _attempt(request, _back(ticket_id), lambda: action(form), done)


@router.post("/tickets/{ticket_id}/transition")
async def ticket_transition(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        status = TicketStatus(form.get("status", ""))
        await service.transition(
            session, principal.actor, ticket_id, status, form.get("reason", "")
        )

    return await _write(request, session, ticket_id, act, _("Status changed."))


@router.post("/tickets/{ticket_id}/assign")
async def ticket_assign(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        await service.assign(
            session,
            principal.actor,
            ticket_id,
            assignee_id=_int(form.get("assignee_id")),
            group_id=_int(form.get("group_id")),
        )

    return await _write(request, session, ticket_id, act, _("Assignment saved."))


@router.post("/tickets/{ticket_id}/update")
async def ticket_update(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        tags = [t for t in form.get("tags", "").replace("，", ",").split(",")]
        data = TicketUpdate(
            priority=form.get("priority") or None,
            type_code=form.get("type_code") or None,
            tags=tags if "tags" in form else None,
            category_id=int(form["category_id"] or 0) if "category_id" in form else None,
        )
        await service.update_ticket(session, principal.actor, ticket_id, data)

    return await _write(request, session, ticket_id, act, _("Ticket updated."))


@router.post("/tickets/{ticket_id}/reply")
async def ticket_reply(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        body = form.get("body", "").strip()
        if not body:
            raise KefuError("请输入内容", "Write something first", status=422)
        if form.get("mode") == "note":
            await service.add_note(session, principal.actor, ticket_id, body)
        else:
            status = TicketStatus(form["status"]) if form.get("status") else None
            await service.reply_to_customer(
                session, principal.actor, ticket_id, body, status=status
            )

    return await _write(request, session, ticket_id, act, _("Saved."))


@router.post("/tickets/{ticket_id}/watch")
async def ticket_watch(
    request: Request, ticket_id: int, session: DbSession, principal: Reader
) -> Response:
    async def act(form: dict[str, str]) -> None:
        await service.set_watching(
            session, principal.actor, ticket_id, principal.user.id, form.get("watch") == "1"
        )

    return await _write(request, session, ticket_id, act, _("Saved."))


def _local_datetime(value: str, tz: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz))
    except ValueError as exc:
        raise KefuError("截止时间格式不正确", "The due time is not valid", status=422) from exc


@router.post("/tickets/{ticket_id}/tasks")
async def ticket_task_add(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        settings = await ticket_settings.get_settings(session)
        due = _local_datetime(form.get("due_at", ""), settings["business_hours"]["timezone"])
        data = TaskIn(
            title=form.get("title", ""),
            group_id=_int(form.get("group_id")),
            assignee_id=_int(form.get("assignee_id")),
            due_at=due,
        )
        await service.add_task(session, principal.actor, ticket_id, data)

    return await _write(request, session, ticket_id, act, _("Handed over."))


@router.post("/tickets/{ticket_id}/tasks/{task_id}/done")
async def ticket_task_done(
    request: Request, ticket_id: int, task_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        satisfied = {"1": True, "0": False}.get(form.get("satisfied", ""))
        await service.complete_task(
            session, principal.actor, task_id, outcome=form.get("outcome", ""), satisfied=satisfied
        )

    return await _write(request, session, ticket_id, act, _("Task completed."))


@router.post("/tickets/{ticket_id}/complaint")
async def ticket_complaint(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        data = ComplaintIn(
            severity=form.get("severity") or None,
            responsibility=form.get("responsibility") or None,
            root_cause=form.get("root_cause") or None,
            customer_expectation=form.get("customer_expectation"),
        )
        await complaints.update_complaint(session, principal.actor, ticket_id, data)

    return await _write(request, session, ticket_id, act, _("Complaint record saved."))


@router.post("/tickets/{ticket_id}/compensations")
async def ticket_compensation(
    request: Request, ticket_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        try:
            amount = Decimal(form.get("amount", "").strip() or "x")
        except InvalidOperation as exc:
            raise KefuError("请填写补偿金额", "Enter the amount", status=422) from exc
        data = CompensationIn(
            kind=form.get("kind", ""),
            amount=amount,
            description=form.get("description", ""),
        )
        await complaints.propose_compensation(
            session, principal.actor, principal.user.role, ticket_id, data
        )

    return await _write(request, session, ticket_id, act, _("Compensation proposed."))


@router.post("/tickets/{ticket_id}/compensations/{comp_id}/decision")
async def ticket_compensation_decision(
    request: Request, ticket_id: int, comp_id: int, session: DbSession, principal: Writer
) -> Response:
    async def act(form: dict[str, str]) -> None:
        await complaints.decide_compensation(
            session,
            principal.actor,
            principal.user.role,
            comp_id,
            approve=form.get("approve") == "1",
            note=form.get("note", ""),
        )

    return await _write(request, session, ticket_id, act, _("Decision recorded."))


# ---- settings -----------------------------------------------------------------------------


@router.get("/settings/tickets", response_class=HTMLResponse)
async def ticket_settings_page(request: Request, session: DbSession, principal: Admin) -> Response:
    settings = await ticket_settings.get_settings(session)
    types = await service.list_types(session, active_only=False)
    policies = list(
        (
            await session.scalars(
                select(SlaPolicy).where(SlaPolicy.is_active.is_(True)).order_by(SlaPolicy.id)
            )
        ).all()
    )
    days = list((await session.scalars(select(CalendarDay).order_by(CalendarDay.day))).all())
    _users, groups = await _people(session)
    category_tree = await categories.tree(session)
    return render(
        request,
        "tickets/settings.html",
        {
            "section": "settings",
            "settings": settings,
            "types": types,
            "type_label": _type_label(types),
            "policies": policies,
            "days": days,
            "categories": category_tree,
            "max_category_depth": categories.MAX_DEPTH,
            "groups": groups,
            "group_names": {g.id: g.name for g in groups},
            "weekday_names": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
            **_helpers(),
        },
    )


def _settings_write(
    request: Request, session: DbSession, action: Callable[[], Awaitable[Any]], done: str
) -> Awaitable[Response]:
    request.state.ticket_session = session
    return _attempt(request, "/settings/tickets", action, done)


@router.post("/settings/tickets/general")
async def ticket_settings_general(
    request: Request, session: DbSession, principal: Admin
) -> Response:
    form = await request.form()

    async def act() -> None:
        try:
            start = str(form.get("day_start") or "09:00")
            end = str(form.get("day_end") or "18:00")
            datetime.strptime(start, "%H:%M")
            datetime.strptime(end, "%H:%M")
            ratio = float(str(form.get("warn_ratio") or "0.8"))
            limits = {
                "agent": float(str(form.get("limit_agent") or "0")),
                "supervisor": float(str(form.get("limit_supervisor") or "0")),
                "admin": None,
            }
            window = int(str(form.get("repeat_window_days") or "30"))
            delay = float(str(form.get("follow_up_delay_hours") or "24"))
        except ValueError as exc:
            raise KefuError(
                "请检查填写的数字和时间", "Check the numbers and times", status=422
            ) from exc
        if end <= start:
            raise KefuError(
                "下班时间须晚于上班时间", "The day must end after it starts", status=422
            )
        if not 0 < ratio < 1:
            raise KefuError("预警比例须在 0 与 1 之间", "The warning share must be 0–1", status=422)
        weekdays = sorted(int(str(v)) for v in form.getlist("weekdays") if str(v).isdigit())
        words = [w.strip() for w in str(form.get("high_risk_words") or "").split() if w.strip()]
        current = await ticket_settings.get_settings(session)
        await ticket_settings.update_general(
            session,
            principal.actor,
            {
                "business_hours": {
                    **current["business_hours"],
                    "day_start": start,
                    "day_end": end,
                    "weekdays": weekdays,
                },
                "warn_ratio": ratio,
                "approval_limits": limits,
                "repeat_window_days": window,
                "follow_up_delay_hours": delay,
                "high_risk_words": words,
            },
        )

    return await _settings_write(request, session, act, _("Settings saved."))


def _parse_fields(text: str) -> list[dict[str, Any]]:
    """One custom field per line: `key 标签` with a trailing * for required."""
    fields: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        key = parts[0].strip().lower()
        label = parts[1].strip() if len(parts) > 1 else key
        required = label.endswith("*")
        fields.append({"key": key, "label": label.rstrip("*").strip(), "required": required})
    return fields


@router.post("/settings/tickets/types")
async def ticket_settings_type(request: Request, session: DbSession, principal: Admin) -> Response:
    form = await _form(request)

    async def act() -> None:
        await ticket_settings.add_type(
            session,
            principal.actor,
            code=form.get("code", ""),
            name_zh=form.get("name_zh", ""),
            name_en=form.get("name_en", ""),
            fields=_parse_fields(form.get("fields", "")),
        )

    return await _settings_write(request, session, act, _("Ticket type added."))


@router.post("/settings/tickets/categories")
async def ticket_settings_category_add(
    request: Request, session: DbSession, principal: Admin
) -> Response:
    form = await _form(request)

    async def act() -> None:
        await categories.add_category(
            session, principal.actor, form.get("name", ""), _int(form.get("parent_id"))
        )

    return await _settings_write(request, session, act, _("Category added."))


@router.post("/settings/tickets/categories/{category_id}/rename")
async def ticket_settings_category_rename(
    request: Request, category_id: int, session: DbSession, principal: Admin
) -> Response:
    form = await _form(request)

    async def act() -> None:
        await categories.rename_category(
            session, principal.actor, category_id, form.get("name", "")
        )

    return await _settings_write(request, session, act, _("Category renamed."))


@router.post("/settings/tickets/categories/{category_id}/delete")
async def ticket_settings_category_delete(
    request: Request, category_id: int, session: DbSession, principal: Admin
) -> Response:
    async def act() -> None:
        await categories.delete_category(session, principal.actor, category_id)

    return await _settings_write(request, session, act, _("Category removed."))


@router.post("/settings/tickets/types/{type_id}/toggle")
async def ticket_settings_type_toggle(
    request: Request, type_id: int, session: DbSession, principal: Admin
) -> Response:
    form = await _form(request)

    async def act() -> None:
        await ticket_settings.set_type_active(
            session, principal.actor, type_id, form.get("active") == "1"
        )

    return await _settings_write(request, session, act, _("Saved."))


@router.post("/settings/tickets/policies")
async def ticket_settings_policy(
    request: Request, session: DbSession, principal: Admin
) -> Response:
    form = await _form(request)

    async def act() -> None:
        try:
            values = {
                "name": form.get("name", "").strip()[:80] or "SLA",
                "priority": form.get("priority") or None,
                "customer_tier": form.get("customer_tier") or None,
                "type_code": form.get("type_code") or None,
                "first_response_minutes": int(form.get("first_response_minutes") or 0),
                "next_response_minutes": int(form.get("next_response_minutes") or 0),
                "resolution_minutes": int(form.get("resolution_minutes") or 0),
                "business_hours": form.get("business_hours") == "1",
                "warn_ratio": float(form.get("warn_ratio") or 0.8),
                "notify_supervisors": form.get("notify_supervisors") == "1",
                "raise_priority": form.get("raise_priority") == "1",
                "escalate_group_id": _int(form.get("escalate_group_id")),
            }
        except ValueError as exc:
            raise KefuError("时限须为整数分钟", "Targets are whole minutes", status=422) from exc
        await ticket_settings.add_policy(session, principal.actor, values)

    return await _settings_write(request, session, act, _("SLA policy added."))


@router.post("/settings/tickets/policies/{policy_id}/delete")
async def ticket_settings_policy_delete(
    request: Request, policy_id: int, session: DbSession, principal: Admin
) -> Response:
    async def act() -> None:
        await ticket_settings.delete_policy(session, principal.actor, policy_id)

    return await _settings_write(request, session, act, _("SLA policy removed."))


@router.post("/settings/tickets/calendar")
async def ticket_settings_calendar(
    request: Request, session: DbSession, principal: Admin
) -> Response:
    form = await _form(request)

    async def act() -> None:
        try:
            day = date.fromisoformat(form.get("day", "").strip())
        except ValueError as exc:
            raise KefuError(
                "请填写日期，如 2026-12-31", "Enter a date like 2026-12-31", status=422
            ) from exc
        kind = form.get("kind") or None
        await ticket_settings.set_calendar_day(
            session, principal.actor, day, None if kind == "remove" else kind, form.get("name", "")
        )

    return await _settings_write(request, session, act, _("Calendar updated."))


# ---- customer-facing (signed link, no sign-in) -----------------------------------------
# These two routes are the exception to "every route Require(...)": the customer has no
# account, and the signed, expiring token in the URL is the credential (see portal.py).


@router.get("/t/{token}", response_class=HTMLResponse)
async def customer_status(request: Request, token: str, session: DbSession) -> Response:
    try:
        view = await portal.public_view(session, token)
    except KefuError as exc:
        return render(
            request, "tickets/public.html", {"error": pick(exc.zh, exc.en)}, status_code=exc.status
        )
    return render(
        request,
        "tickets/public.html",
        {
            **view,
            "token": token,
            "rated": request.query_params.get("rated") == "1",
            "created": request.query_params.get("created") == "1",
            **_helpers(),
        },
    )


@router.post("/t/{token}/rating")
async def customer_rating(request: Request, token: str, session: DbSession) -> Response:
    form = await _form(request)
    score = _int(form.get("score")) or 0
    try:
        async with session.begin_nested():
            await portal.rate(
                session,
                token,
                score,
                form.get("comment", ""),
                ip=request.client.host if request.client else None,
            )
    except KefuError as exc:
        view = await portal.public_view(session, token)
        return render(
            request,
            "tickets/public.html",
            {**view, "token": token, "error": pick(exc.zh, exc.en), **_helpers()},
            status_code=exc.status,
        )
    return RedirectResponse(f"/t/{token}?rated=1", status_code=303)
