"""Order-service pages under /orders/…: daily checks, flags, stock-outs, address confirmation,
the order-page panel and the store settings. Routes parse, call one service, redirect.

Included before the store pages (kefu/pages.py), so `/orders/checks` is not taken for an
order id. Writes redirect back to the list they came from (`next`, only /orders/… paths) with
a flash; a refused action (KefuError) is flashed as an error in the viewer's language.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, NotFound
from kefu.core.i18n import gettext as _
from kefu.core.i18n import lazy_pair
from kefu.core.masking import mask_name, mask_phone
from kefu.orderservice import checks, lists, work
from kefu.orderservice.enums import LABELS, AddressStatus, FlagKind, FlagStatus, StockoutChoice
from kefu.orderservice.settings import settings_for, update_settings
from kefu.store import repository, views
from kefu.store.connector import NewAddress, get_connector
from kefu.store.enums import NOT_SHIPPED, CustomerTier
from kefu.store.models import Store
from kefu.web.forms import positive_int
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)

OrdersReader = Annotated[Principal, Require(Permission.orders_read)]
OrdersWriter = Annotated[Principal, Require(Permission.orders_read, Permission.orders_write)]
StoreManager = Annotated[Principal, Require(Permission.stores_manage)]


def label(value: str | None) -> str:
    if not value:
        return _("No answer yet")
    pair = LABELS.get(value)
    return lazy_pair(*pair) if pair else value


_int = positive_int


def _next(value: str, default: str) -> str:
    """Only our own order pages: a crafted `next` must not send the agent elsewhere."""
    if value.startswith("/orders") and "//" not in value and "\\" not in value:
        return value
    return default


def _back(url: str, **params: Any) -> RedirectResponse:
    extra = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    if extra:
        url += ("&" if "?" in url else "?") + extra
    return RedirectResponse(url, status_code=303)


def _flash_error(request: Request, exc: KefuError) -> None:
    flash(request, lazy_pair(exc.zh, exc.en), "error")


def _helpers() -> dict[str, Any]:
    return {
        "status_label": views.order_status_label,
        "status_tone": views.order_status_tone,
        "tier_label": views.tier_label,
        "mask_name": mask_name,
        "mask_phone": mask_phone,
        "masked_address": views.masked_address,
        "label": label,
        "age_text": checks.age_text,
    }


async def _common(request: Request, session: DbSession, tab: str) -> dict[str, Any]:
    """The sub-navigation with its counts, the stores, and the copy panel (`?copy=kind-id`)."""
    stores = await repository.stores_by_id(session)
    copy_text = None
    kind, _sep, raw_id = request.query_params.get("copy", "").partition("-")
    row_id = _int(raw_id)
    if kind in ("flag", "stockout", "address") and row_id:
        try:
            row = await work.load_item(session, kind, row_id)
            copy_text = await work.question_for(session, kind, row)
        except NotFound:
            copy_text = None
    return {
        "section": "orders",
        "os_tab": tab,
        "os_counts": await lists.open_counts(session),
        "stores": list(stores.values()),
        "copy_text": copy_text,
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        **_helpers(),
    }


# --- daily checks -----------------------------------------------------------------------------


@router.get("/orders/checks", response_class=HTMLResponse)
async def daily_checks(
    request: Request,
    session: DbSession,
    principal: OrdersReader,
    tab: str = "unshipped",
    store: str | None = None,
    older_than: str | None = None,
    tier: str | None = None,
    flagged: str | None = None,
    page: str | None = None,
) -> Response:
    flt = checks.CheckFilter(
        tab="unpaid" if tab == "unpaid" else "unshipped",
        store_id=_int(store),
        older_than_hours=min(_int(older_than) or 0, 24 * 365) or None,
        tier=tier if tier in CustomerTier._value2member_map_ else None,
        flagged=flagged == "1",
        page=min(_int(page) or 1, 10_000),
    )
    result = await checks.list_checks(session, flt)
    filters = {
        "store": flt.store_id or "",
        "older_than": flt.older_than_hours or "",
        "tier": flt.tier or "",
        "flagged": "1" if flt.flagged else "",
    }

    def query(**changes: Any) -> str:
        return urlencode({k: v for k, v in {**filters, "tab": flt.tab, **changes}.items() if v})

    return render(
        request,
        "orderservice/checks.html",
        {
            **await _common(request, session, "checks"),
            "flt": flt,
            "filters": filters,
            "result": result,
            "tiers": views.tier_choices(),
            "query": query,
            "can_write": principal.can(Permission.orders_write),
        },
    )


@router.post("/orders/checks/{order_id}/note")
async def add_order_note(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    order_id: int,
    body: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    order = await repository.get_order(session, order_id)
    store = await session.get(Store, order.store_id)
    assert store is not None
    try:
        await get_connector(session, store).add_note(order.id, body, actor=principal.actor)
        flash(request, _("Note added to order %(no)s") % {"no": order.order_no})
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(_next(next, "/orders/checks"))


@router.post("/orders/checks/{order_id}/cancel")
async def cancel_order(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    order_id: int,
    reason: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    order = await repository.get_order(session, order_id)
    store = await session.get(Store, order.store_id)
    assert store is not None
    try:
        result = await get_connector(session, store).cancel_order(
            order.id, reason=reason.strip()[:200] or "客服每日检查取消", actor=principal.actor
        )
        flash(request, f"{order.order_no}：{lazy_pair(result.message_zh, result.message_en)}")
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(_next(next, "/orders/checks"))


# --- flags ----------------------------------------------------------------------------------


@router.get("/orders/flags", response_class=HTMLResponse)
async def flag_list(
    request: Request,
    session: DbSession,
    principal: OrdersReader,
    status: str = "open",
    kind: str = "",
) -> Response:
    status_value = status if status in FlagStatus._value2member_map_ else None
    kind_value = kind if kind in FlagKind._value2member_map_ else None
    flags = await lists.list_flags(session, status=status_value, kind=kind_value)
    return render(
        request,
        "orderservice/flags.html",
        {
            **await _common(request, session, "flags"),
            "flags": flags,
            "status": status_value or "",
            "kind": kind_value or "",
            "statuses": [(s.value, label(s.value)) for s in FlagStatus],
            "kinds": [(k.value, label(k.value)) for k in FlagKind],
            "can_write": principal.can(Permission.orders_write),
        },
    )


@router.post("/orders/flags/{flag_id}/resolve")
async def resolve_flag(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    flag_id: int,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    cancel_order_id: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        flag, result = await work.resolve_flag(
            session,
            principal.actor,
            flag_id,
            status,
            note=note,
            cancel_order_id=_int(cancel_order_id),
        )
        message = _("Recorded: %(outcome)s") % {"outcome": label(flag.status)}
        if result is not None:
            message += " · " + lazy_pair(result.message_zh, result.message_en)
        flash(request, message)
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(_next(next, "/orders/flags"))


# --- stock-outs -----------------------------------------------------------------------------


@router.get("/orders/stockouts", response_class=HTMLResponse)
async def stockout_list(
    request: Request, session: DbSession, principal: OrdersReader, answered: str = ""
) -> Response:
    groups = await lists.list_stockouts(session, answered=answered == "1")
    return render(
        request,
        "orderservice/stockouts.html",
        {
            **await _common(request, session, "stockouts"),
            "groups": groups,
            "answered": answered == "1",
            "choices": [(c.value, label(c.value)) for c in StockoutChoice],
            "can_write": principal.can(Permission.orders_write),
        },
    )


@router.post("/orders/stockouts/{case_id}/answer")
async def stockout_answer(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    case_id: int,
    choice: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        case = await work.record_stockout_choice(
            session, principal.actor, case_id, choice, note=note
        )
        flash(request, _("Recorded: %(outcome)s") % {"outcome": label(case.choice)})
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(_next(next, "/orders/stockouts"))


# --- address confirmation ---------------------------------------------------------------------


@router.get("/orders/address-checks", response_class=HTMLResponse)
async def address_list(
    request: Request, session: DbSession, principal: OrdersReader, status: str = "pending"
) -> Response:
    status_value = status if status in AddressStatus._value2member_map_ else "pending"
    tasks = await lists.list_address_tasks(session, status=status_value)
    return render(
        request,
        "orderservice/addresses.html",
        {
            **await _common(request, session, "addresses"),
            "tasks": tasks,
            "status": status_value,
            "statuses": [(s.value, label(s.value)) for s in AddressStatus],
            "can_write": principal.can(Permission.orders_write),
        },
    )


@router.post("/orders/address-checks/{task_id}/answer")
async def address_answer(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    task_id: int,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        task = await work.record_address_answer(
            session, principal.actor, task_id, status, note=note
        )
        flash(request, _("Recorded: %(outcome)s") % {"outcome": label(task.status)})
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(_next(next, "/orders/address-checks"))


# --- asking the customer ----------------------------------------------------------------------


@router.post("/orders/ask/{kind}/{row_id}")
async def ask_customer(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    kind: str,
    row_id: int,
    ask_no: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    back = _next(next, "/orders/checks")
    try:
        number = int(ask_no) if ask_no.strip().isdigit() else None
        result = await work.ask(session, principal.actor, kind, row_id, ask_no=number)
    except KefuError as exc:
        _flash_error(request, exc)
        return _back(back)
    if result.conversation_id is None:
        flash(
            request,
            _(
                "This customer has no conversation here: copy the message and send it on the shop's platform."  # noqa: E501
            ),
            "info",
        )
        return _back(back, copy=f"{kind}-{row_id}")
    flash(request, _("Message sent to the customer's conversation."))
    return _back(back)


# --- the order page panel and merge requests --------------------------------------------------


@router.get("/orders/{order_id}/service-panel", response_class=HTMLResponse)
async def order_panel(
    request: Request, session: DbSession, principal: OrdersReader, order_id: int
) -> Response:
    order = await repository.get_order(session, order_id)
    flags = await lists.list_flags(session, status=FlagStatus.open.value, order_id=order.id)
    stockouts = [
        view
        for group in await lists.list_stockouts(session, order_id=order.id)
        for view in group.cases
    ]
    tasks = await lists.list_address_tasks(session, status=None, order_id=order.id)
    return render(
        request,
        "orderservice/_panel.html",
        {
            "order": order,
            "flags": flags,
            "stockouts": stockouts,
            "address_task": tasks[0] if tasks else None,
            "mergeable": await work.mergeable_orders(session, order),
            "can_change_address": order.status in NOT_SHIPPED,
            "can_write": principal.can(Permission.orders_write),
            **_helpers(),
        },
    )


@router.post("/orders/{order_id}/merge-request")
async def merge_request(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    order_id: int,
    order_ids: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
) -> Response:
    ids = [order_id, *(i for i in (_int(v) for v in order_ids or []) if i)]
    try:
        await work.request_merge(session, principal.actor, ids, note=note)
        flash(request, _("Merge request recorded; it shows on each order."))
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(f"/orders/{order_id}")


@router.post("/orders/{order_id}/address")
async def change_address(
    request: Request,
    session: DbSession,
    principal: OrdersWriter,
    order_id: int,
    receiver_name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    province: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    district: Annotated[str, Form()] = "",
    detail: Annotated[str, Form()] = "",
) -> Response:
    address = NewAddress(receiver_name, phone, province, city, district, detail)
    try:
        result = await work.change_address(session, principal.actor, order_id, address)
        flash(request, lazy_pair(result.message_zh, result.message_en))
    except KefuError as exc:
        _flash_error(request, exc)
    return _back(f"/orders/{order_id}")


# --- settings -------------------------------------------------------------------------------


@router.get("/orders/service-settings", response_class=HTMLResponse)
async def settings_page(request: Request, session: DbSession, principal: StoreManager) -> Response:
    common = await _common(request, session, "settings")
    return render(
        request,
        "orderservice/settings.html",
        {**common, "rows": [(s, settings_for(s)) for s in common["stores"]], "error": None},
    )


@router.post("/orders/service-settings/{store_id}")
async def save_settings(
    request: Request,
    session: DbSession,
    principal: StoreManager,
    store_id: int,
    duplicate_window_days: Annotated[str, Form()] = "",
    auto_ask: Annotated[str, Form()] = "",
) -> Response:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    try:
        await update_settings(
            session,
            principal.actor,
            store,
            {
                "duplicate_window_days": duplicate_window_days.strip() or None,
                "auto_ask": auto_ask == "1",
            },
        )
        flash(request, _("Settings saved for %(store)s") % {"store": store.name})
    except KefuError as exc:
        _flash_error(request, exc)
    return _back("/orders/service-settings")
