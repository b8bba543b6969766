"""The buyer's self-service after-sales pages under the public prefix /chat/{channel}/aftersales.

Who may see what: a shopper the shop vouches for (the same signed `uid` + `uid_hash` as the
chat, see kefu/channels/identity.py) sees their own orders; an anonymous visitor sees no order
until they name one with its order number and the last four digits of the receiver's phone,
which unlocks that order only, in this browser's signed session. Failed look-ups are
rate-limited per IP (`LOOKUP_LIMIT` per 10 minutes), so phone tails cannot be guessed.

Flow: pick an order → lines and quantities → kind and reason → photos → the policy decision is
shown before submitting → submit → the case page with its timeline and, once approved, the
form for the return tracking number. Forms carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from kefu.accounts.deps import verify_csrf
from kefu.accounts.ratelimit import RateLimiter, app_limiter
from kefu.aftersales import photos, service
from kefu.aftersales.enums import CaseSource, CaseStatus, PhotoStage
from kefu.aftersales.models import AftersalesCase
from kefu.aftersales.schemas import CaseCreate, TrackingIn
from kefu.channels import identity
from kefu.core.audit import Actor
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, NotFound, TooManyRequests
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, OrderItem, Store
from kefu.web.templating import pick, render

router = APIRouter(include_in_schema=False)

LOOKUP_LIMIT = 5
LOOKUP_WINDOW_S = 600.0
_SESSION_KEY = "aftersales"
# Orders a buyer may start after-sales on (paid; not closed).
_ELIGIBLE = [
    OrderStatus.WAIT_SELLER_SEND_GOODS,
    OrderStatus.SELLER_CONSIGNED_PART,
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
    OrderStatus.TRADE_BUYER_SIGNED,
    OrderStatus.TRADE_FINISHED,
]


class OrderNotVisible(NotFound):
    code = "aftersales_order_not_visible"
    zh, en = "找不到该订单，请先验证订单号和手机尾号", "Order not found; verify it first"


def _limiter(request: Request) -> RateLimiter:
    return app_limiter(request.app, "aftersales-lookup", LOOKUP_LIMIT, LOOKUP_WINDOW_S)


def _grant(request: Request, store: Store) -> dict[str, Any]:
    grants = request.session.get(_SESSION_KEY) or {}
    value = grants.get(str(store.id)) or {}
    return {"c": value.get("c"), "o": list(value.get("o") or [])}


def _save_grant(request: Request, store: Store, grant: dict[str, Any]) -> None:
    grants = dict(request.session.get(_SESSION_KEY) or {})
    grant["o"] = grant["o"][-20:]
    grants[str(store.id)] = grant
    request.session[_SESSION_KEY] = grants


def _customer_actor(request: Request, customer: Customer | None) -> Actor:
    ip = request.client.host if request.client else None
    name = (customer.nickname or customer.name) if customer else "顾客"
    return Actor("customer", customer.id if customer else None, name or "顾客", ip)


async def _visible_order(
    request: Request, session: DbSession, store: Store, order_id: int
) -> Order:
    grant = _grant(request, store)
    order = await session.get(Order, order_id)
    if order is None or order.store_id != store.id:
        raise OrderNotVisible()
    mine = grant["c"] is not None and order.customer_id == grant["c"]
    if not mine and order.id not in grant["o"]:
        raise OrderNotVisible()
    return order


async def _visible_case(
    request: Request, session: DbSession, store: Store, case_id: int
) -> AftersalesCase:
    case = await session.get(AftersalesCase, case_id)
    if case is None or case.store_id != store.id:
        raise OrderNotVisible("找不到该售后单", "After-sales case not found")
    await _visible_order(request, session, store, case.order_id)
    return case


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    from kefu.aftersales.pages import helpers

    response = render(request, name, {**helpers(), **context}, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _error(request: Request, store: Store | None, exc: KefuError) -> Response:
    return _page(
        request,
        "aftersales/h5_error.html",
        {"store": store, "error": pick(exc.zh, exc.en)},
        status_code=exc.status,
    )


# ---- start: identify, pick an order ----------------------------------------------------------


@router.get("/chat/{channel}/aftersales", response_class=HTMLResponse)
async def start(request: Request, channel: str, session: DbSession) -> Response:
    params = request.query_params
    try:
        store = await identity.store_by_channel(session, channel)
        uid = params.get("uid") or ""
        if uid:
            identity.verify_identity(store, uid, params.get("uid_hash") or "")
            customer = await identity.identified_customer(
                session, store, uid, (params.get("name") or "")[:64]
            )
            grant = _grant(request, store)
            grant["c"] = customer.id
            _save_grant(request, store, grant)
    except KefuError as exc:
        return await _error(request, None, exc)
    grant = _grant(request, store)
    conditions = []
    if grant["c"] is not None:
        conditions.append(Order.customer_id == grant["c"])
    if grant["o"]:
        conditions.append(Order.id.in_(grant["o"]))
    orders: list[Order] = []
    if conditions:
        from sqlalchemy import or_

        orders = list(
            (
                await session.scalars(
                    select(Order)
                    .where(Order.store_id == store.id, or_(*conditions))
                    .order_by(Order.placed_at.desc())
                    .limit(20)
                )
            ).all()
        )
    items: dict[int, list[OrderItem]] = {}
    if orders:
        rows = await session.scalars(
            select(OrderItem).where(OrderItem.order_id.in_([o.id for o in orders]))
        )
        for item in rows.all():
            items.setdefault(item.order_id, []).append(item)
    cases = (
        list(
            (
                await session.scalars(
                    select(AftersalesCase)
                    .where(AftersalesCase.order_id.in_([o.id for o in orders]))
                    .order_by(AftersalesCase.id.desc())
                )
            ).all()
        )
        if orders
        else []
    )
    return _page(
        request,
        "aftersales/h5_start.html",
        {
            "store": store,
            "channel": channel,
            "orders": orders,
            "items": items,
            "cases": cases,
            "eligible": {s.value for s in _ELIGIBLE},
            "identified": grant["c"] is not None,
            "lookup_error": None,
        },
    )


@router.post("/chat/{channel}/aftersales/lookup")
async def lookup(request: Request, channel: str, session: DbSession) -> Response:
    try:
        await verify_csrf(request)
        store = await identity.store_by_channel(session, channel)
    except KefuError as exc:
        return await _error(request, None, exc)
    form = await request.form()
    order_no = str(form.get("order_no") or "").strip()[:64]
    tail = str(form.get("phone_tail") or "").strip()
    ip = request.client.host if request.client else "unknown"
    limiter = _limiter(request)
    key = f"{store.id}:{ip}"
    error: str | None = None
    if await limiter.is_limited(key):
        limited = TooManyRequests("尝试次数过多，请 10 分钟后再试", "Too many attempts; try later")
        error = pick(limited.zh, limited.en)
    elif not order_no or not (len(tail) == 4 and tail.isdigit()):
        error = pick("请填写订单号和收货手机号后四位", "Enter the order number and phone tail")
    else:
        order = await session.scalar(
            select(Order).where(
                Order.store_id == store.id,
                Order.order_no == order_no,
                Order.receiver_phone_tail == tail,
            )
        )
        if order is None:
            await limiter.hit(key)
            error = pick("订单号或手机尾号不正确", "The order number or phone tail does not match")
        else:
            grant = _grant(request, store)
            if order.id not in grant["o"]:
                grant["o"].append(order.id)
            _save_grant(request, store, grant)
            return RedirectResponse(
                f"/chat/{channel}/aftersales/orders/{order.id}", status_code=303
            )
    return _page(
        request,
        "aftersales/h5_start.html",
        {
            "store": store,
            "channel": channel,
            "orders": [],
            "items": {},
            "cases": [],
            "eligible": set(),
            "identified": False,
            "lookup_error": error,
            "order_no": order_no,
        },
        status_code=429 if error and "10" in error else 422,
    )


# ---- the request form --------------------------------------------------------------------------


async def _order_page(
    request: Request,
    session: DbSession,
    store: Store,
    channel: str,
    order: Order,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    items = list(
        (
            await session.scalars(
                select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
            )
        ).all()
    )
    return _page(
        request,
        "aftersales/h5_order.html",
        {
            "store": store,
            "channel": channel,
            "order": order,
            "items": items,
            "values": values or {},
            "error": error,
            "max_photos": photos.MAX_PHOTOS_PER_STAGE,
        },
        status_code=status_code,
    )


@router.get("/chat/{channel}/aftersales/orders/{order_id}", response_class=HTMLResponse)
async def order_form(request: Request, channel: str, order_id: int, session: DbSession) -> Response:
    try:
        store = await identity.store_by_channel(session, channel)
        order = await _visible_order(request, session, store, order_id)
    except KefuError as exc:
        return await _error(request, None, exc)
    return await _order_page(request, session, store, channel, order)


async def _request_from(
    request: Request, order: Order
) -> tuple[CaseCreate, list[tuple[str, bytes]]]:
    from kefu.aftersales.pages import case_create_from_form, ticked_items

    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    form.pop("override_reason", None)  # only agents may override
    files: list[tuple[str, bytes]] = []
    for value in raw.getlist("photos"):
        if isinstance(value, UploadFile) and value.filename:
            files.append((value.filename, await value.read()))
    return case_create_from_form(order.id, form, ticked_items(raw.getlist("item"))), files


@router.post("/chat/{channel}/aftersales/orders/{order_id}/preview")
async def preview(request: Request, channel: str, order_id: int, session: DbSession) -> Response:
    """The decision the request would get, shown before the buyer submits (JSON for fetch)."""
    try:
        await verify_csrf(request)
        store = await identity.store_by_channel(session, channel)
        order = await _visible_order(request, session, store, order_id)
        data, _files = await _request_from(request, order)
        decision = await service.preview(session, data, store_id=store.id)
    except (KefuError, ValidationError) as exc:
        from kefu.aftersales.pages import problem_text

        status = exc.status if isinstance(exc, KefuError) else 422
        return JSONResponse({"error": problem_text(exc)}, status_code=status)
    rows = [*decision.reasons, *decision.notes]
    return JSONResponse(
        {
            "allowed": decision.allowed,
            "refund": f"{decision.max_refundable_amount:.2f}",
            "rules": [
                {
                    "text": pick(r.zh, r.en),
                    "article": pick(r.article, r.article_en),
                    "outcome": r.outcome.value,
                }
                for r in rows
            ],
        }
    )


@router.post("/chat/{channel}/aftersales/orders/{order_id}")
async def submit(request: Request, channel: str, order_id: int, session: DbSession) -> Response:
    try:
        await verify_csrf(request)
        store = await identity.store_by_channel(session, channel)
        order = await _visible_order(request, session, store, order_id)
    except KefuError as exc:
        return await _error(request, None, exc)
    raw_values: dict[str, Any] = {}
    try:
        data, files = await _request_from(request, order)
        raw_values = data.model_dump(mode="json")
        customer = await session.get(Customer, order.customer_id) if order.customer_id else None
        actor = _customer_actor(request, customer)
        for name, content in files:
            photos.check_photo(content, name)  # refuse a bad photo before creating anything
        async with session.begin_nested():
            created = await service.create_case(
                session, actor, data, source=CaseSource.customer, store_id=store.id
            )
            await photos.add_photos(session, actor, created.case, files, PhotoStage.request)
    except (KefuError, ValidationError) as exc:
        from kefu.aftersales.pages import problem_text

        return await _order_page(
            request, session, store, channel, order, raw_values, problem_text(exc), 422
        )
    return RedirectResponse(f"/chat/{channel}/aftersales/cases/{created.case.id}", status_code=303)


# ---- the case ------------------------------------------------------------------------------------


@router.get("/chat/{channel}/aftersales/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, channel: str, case_id: int, session: DbSession) -> Response:
    try:
        store = await identity.store_by_channel(session, channel)
        case = await _visible_case(request, session, store, case_id)
    except KefuError as exc:
        return await _error(request, None, exc)
    return await _case_page(request, session, store, channel, case)


async def _case_page(
    request: Request,
    session: DbSession,
    store: Store,
    channel: str,
    case: AftersalesCase,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    order = await session.get(Order, case.order_id)
    return _page(
        request,
        "aftersales/h5_case.html",
        {
            "store": store,
            "channel": channel,
            "case": case,
            "order": order,
            "lines": await service.case_lines(session, case.id),
            "events": await service.case_events(session, case.id, customer_only=True),
            "photos": await photos.case_photos(session, case.id),
            "error": error,
            "wants_tracking": case.status in (CaseStatus.awaiting_return, CaseStatus.returned),
        },
        status_code=status_code,
    )


@router.post("/chat/{channel}/aftersales/cases/{case_id}/tracking")
async def case_tracking(
    request: Request, channel: str, case_id: int, session: DbSession
) -> Response:
    try:
        await verify_csrf(request)
        store = await identity.store_by_channel(session, channel)
        case = await _visible_case(request, session, store, case_id)
    except KefuError as exc:
        return await _error(request, None, exc)
    form = await request.form()
    try:
        data = TrackingIn(
            carrier=str(form.get("carrier") or ""), tracking_no=str(form.get("tracking_no") or "")
        )
        customer = await session.get(Customer, case.customer_id) if case.customer_id else None
        async with session.begin_nested():
            await service.enter_return_tracking(
                session,
                _customer_actor(request, customer),
                case.id,
                carrier=data.carrier,
                tracking_no=data.tracking_no,
            )
    except (KefuError, ValidationError) as exc:
        from kefu.aftersales.pages import problem_text

        return await _case_page(request, session, store, channel, case, problem_text(exc), 422)
    return RedirectResponse(f"/chat/{channel}/aftersales/cases/{case.id}", status_code=303)


@router.get("/chat/{channel}/aftersales/cases/{case_id}/photos/{photo_id}")
async def case_photo(
    request: Request, channel: str, case_id: int, photo_id: int, session: DbSession
) -> Response:
    store = await identity.store_by_channel(session, channel)
    case = await _visible_case(request, session, store, case_id)
    path, content_type = await photos.photo_file(session, case.id, photo_id)
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "private"})
