"""Store pages: the customer list, the Customer 360, the order list and order detail.

Query strings come from plain GET forms, so an empty or mistyped filter must not turn into a
422 JSON page: filters are parsed leniently and a bad value is shown as a message instead.
Writes (notes, tags, reveal) answer HTMX with a fragment and plain forms with a redirect.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.config import get_settings
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError
from kefu.core.i18n import gettext as _
from kefu.core.i18n import lazy_pair
from kefu.core.masking import mask_email, mask_name, mask_phone
from kefu.store import profile, repository, views
from kefu.store.enums import CustomerTier, OrderStatus
from kefu.store.models import Customer
from kefu.web.forms import positive_int
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)

CustomersReader = Annotated[Principal, Require(Permission.customers_read)]
CustomersWriter = Annotated[
    Principal, Require(Permission.customers_read, Permission.customers_write)
]
CustomersRevealer = Annotated[
    Principal, Require(Permission.customers_read, Permission.customers_reveal_pii)
]
OrdersReader = Annotated[Principal, Require(Permission.orders_read)]
OrdersRevealer = Annotated[
    Principal, Require(Permission.orders_read, Permission.customers_reveal_pii)
]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


_int_param = positive_int


def _page_param(value: str | None) -> int:
    return min(_int_param(value) or 1, 10_000)


def _date_param(value: str | None, problems: list[str], label: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(_("%(field)s is not a date like 2026-11-23") % {"field": label})
        return None


def _helpers() -> dict[str, Any]:
    """Formatting and masking helpers the store templates use (see kefu.store.views)."""
    return {
        "status_label": views.order_status_label,
        "status_tone": views.order_status_tone,
        "shipment_label": views.shipment_status_label,
        "shipment_tone": views.shipment_status_tone,
        "refund_label": views.refund_status_label,
        "tier_label": views.tier_label,
        "channel_label": views.channel_label,
        "identity_display": views.identity_display,
        "mask_name": mask_name,
        "mask_phone": mask_phone,
        "mask_email": mask_email,
        "masked_address": views.masked_address,
        "address_masked": views.address_masked,
        "redact": views.redact_text,
        "error_text": lambda exc: lazy_pair(exc.zh, exc.en),
    }


def _query(**params: Any) -> str:
    """A query string of the non-empty params, for pager links that keep the filters."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


# --- customers ------------------------------------------------------------------------------


@router.get("/customers", response_class=HTMLResponse)
async def customer_list(
    request: Request,
    session: DbSession,
    principal: CustomersReader,
    q: str = "",
    store: str | None = None,
    tier: str | None = None,
    tag: str | None = None,
    page: str | None = None,
) -> Response:
    tier_value = tier if tier in CustomerTier._value2member_map_ else None
    flt = repository.CustomerFilter(
        q=q.strip()[:100],
        store_id=_int_param(store),
        tier=tier_value,
        tag=(tag or "").strip()[:40] or None,
        page=_page_param(page),
    )
    result = await repository.list_customers(session, flt)
    stores = await repository.stores_by_id(session)
    filters = {"q": flt.q, "store": flt.store_id, "tier": flt.tier, "tag": flt.tag}
    return render(
        request,
        "store/customers.html",
        {
            "section": "customers",
            "result": result,
            "filters": filters,
            "stores": list(stores.values()),
            "tiers": views.tier_choices(),
            "prev_query": _query(**filters, page=result.page - 1),
            "next_query": _query(**filters, page=result.page + 1),
            "untag_query": _query(q=flt.q, store=flt.store_id, tier=flt.tier),
            **_helpers(),
        },
    )


async def _render_customer(
    request: Request,
    session: DbSession,
    principal: Principal,
    customer_id: int,
    orders_page: int = 1,
    *,
    note_error: KefuError | None = None,
    tags_error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    data = await repository.load_customer_360(session, customer_id, orders_page)
    customer = data.customer
    return render(
        request,
        "store/customer.html",
        {
            "section": "customers",
            "data": data,
            "customer": customer,
            "store": data.store,
            "tz": data.store.timezone,
            "contact": views.masked_contact(customer.name, customer.phone, customer.email),
            "can_reveal": principal.can(Permission.customers_reveal_pii),
            "can_write": principal.can(Permission.customers_write),
            "can_orders": principal.can(Permission.orders_read),
            "notes": data.notes,
            "note_error": note_error,
            "tags_error": tags_error,
            **_helpers(),
        },
        status_code=status_code,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_360(
    request: Request,
    session: DbSession,
    principal: CustomersReader,
    customer_id: int,
    orders_page: str | None = None,
) -> Response:
    return await _render_customer(
        request, session, principal, customer_id, _page_param(orders_page)
    )


@router.post("/customers/{customer_id}/notes")
async def add_note(
    request: Request,
    session: DbSession,
    principal: CustomersWriter,
    customer_id: int,
    body: Annotated[str, Form()] = "",
) -> Response:
    customer = await repository.get_customer(session, customer_id)
    error: KefuError | None = None
    try:
        await profile.add_customer_note(session, principal.actor, customer, body)
    except KefuError as exc:
        error = exc
    if _is_htmx(request):
        notes = await repository.customer_notes(session, customer_id)
        # 200 even on error: htmx swaps only successful responses, and the form shows it.
        return render(
            request,
            "store/_partials/notes.html",
            {
                "customer": customer,
                "notes": notes,
                "note_error": error,
                "draft": body if error else "",
                "can_write": True,
                "tz": (await repository.stores_by_id(session))[customer.store_id].timezone,
                **_helpers(),
            },
        )
    if error is not None:
        return await _render_customer(
            request, session, principal, customer_id, note_error=error, status_code=error.status
        )
    return RedirectResponse(f"/customers/{customer_id}#notes", status_code=303)


@router.post("/customers/{customer_id}/tags")
async def edit_tags(
    request: Request,
    session: DbSession,
    principal: CustomersWriter,
    customer_id: int,
    tags: Annotated[str, Form()] = "",
) -> Response:
    customer = await repository.get_customer(session, customer_id)
    error: KefuError | None = None
    try:
        await profile.set_customer_tags(session, principal.actor, customer, views.parse_tags(tags))
    except KefuError as exc:
        error = exc
    if _is_htmx(request):
        return render(
            request,
            "store/_partials/tags.html",
            {"customer": customer, "tags_error": error, "can_write": True, **_helpers()},
        )
    if error is not None:
        return await _render_customer(
            request, session, principal, customer_id, tags_error=error, status_code=error.status
        )
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


def _revealed(request: Request, field: str, value: str) -> Response:
    if _is_htmx(request):
        response: Response = render(
            request, "store/_partials/revealed.html", {"field": field, "value": value}
        )
    else:
        response = JSONResponse({"field": field, "value": value})
    # Unmasked personal data must not linger in shared or back/forward caches.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/customers/{customer_id}/reveal")
async def reveal_customer(
    request: Request,
    session: DbSession,
    principal: CustomersRevealer,
    customer_id: int,
    field: Annotated[str, Form()] = "",
    address_id: Annotated[str, Form()] = "",
) -> Response:
    customer = await repository.get_customer(session, customer_id)
    value = await profile.reveal_customer_pii(
        session, principal.actor, customer, field, _int_param(address_id)
    )
    return _revealed(request, field, value)


# --- orders ---------------------------------------------------------------------------------


@router.get("/orders", response_class=HTMLResponse)
async def order_list(
    request: Request,
    session: DbSession,
    principal: OrdersReader,
    q: str = "",
    store: str | None = None,
    status: str | None = None,
    customer: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    page: str | None = None,
) -> Response:
    problems: list[str] = []
    stores = await repository.stores_by_id(session)
    store_id = _int_param(store)
    # A date means a calendar day in the shop's time zone (the default zone across shops).
    zone_name = stores[store_id].timezone if store_id in stores else get_settings().default_timezone
    zone = ZoneInfo(zone_name)
    day_from = _date_param(date_from, problems, _("From"))
    day_to = _date_param(date_to, problems, _("To"))
    if day_from and day_to and day_from > day_to:
        problems.append(_("The start date is after the end date"))
    flt = repository.OrderFilter(
        q=q.strip()[:100],
        store_id=store_id,
        status=status if status in OrderStatus._value2member_map_ else None,
        customer_id=_int_param(customer),
        placed_from=datetime.combine(day_from, time.min, zone) if day_from else None,
        placed_before=(
            datetime.combine(day_to + timedelta(days=1), time.min, zone) if day_to else None
        ),
        page=_page_param(page),
    )
    filter_customer = await session.get(Customer, flt.customer_id) if flt.customer_id else None
    result = await repository.list_orders(session, flt)
    filters = {
        "q": flt.q,
        "store": flt.store_id,
        "status": flt.status,
        "customer": flt.customer_id,
        "date_from": day_from.isoformat() if day_from else "",
        "date_to": day_to.isoformat() if day_to else "",
    }
    return render(
        request,
        "store/orders.html",
        {
            "section": "orders",
            "result": result,
            "filters": filters,
            "filter_customer": filter_customer,
            "problems": problems,
            "stores": list(stores.values()),
            "statuses": views.order_status_choices(),
            "prev_query": _query(**filters, page=result.page - 1),
            "next_query": _query(**filters, page=result.page + 1),
            **_helpers(),
        },
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_detail(
    request: Request, session: DbSession, principal: OrdersReader, order_id: int
) -> Response:
    detail = await repository.load_order(session, order_id)
    return render(
        request,
        "store/order.html",
        {
            "section": "orders",
            "detail": detail,
            "order": detail.bundle.order,
            "bundle": detail.bundle,
            "store": detail.store,
            "customer": detail.customer,
            "tz": detail.store.timezone,
            "can_reveal": principal.can(Permission.customers_reveal_pii),
            "can_customers": principal.can(Permission.customers_read),
            **_helpers(),
        },
    )


@router.post("/orders/{order_id}/reveal")
async def reveal_order(
    request: Request, session: DbSession, principal: OrdersRevealer, order_id: int
) -> Response:
    order = await repository.get_order(session, order_id)
    value = await profile.reveal_order_receiver(session, principal.actor, order)
    return _revealed(request, "receiver", value)
