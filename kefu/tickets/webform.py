"""The customer's web form (联系客服): a public page under the store's help center that opens a
ticket, confirms it by email and shows the signed status page at once.

Anyone may post it, so it is guarded: the session's CSRF token, a hidden honeypot field, a
per-IP rate limit, strict validation, and no order data ever shown back. An order number is
linked to the ticket only when the phone the customer gave matches the order's receiver, so a
stranger cannot attach themselves to someone else's order; otherwise it stays in the text.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import verify_csrf
from kefu.accounts.ratelimit import RateLimiter, app_limiter
from kefu.core.audit import Actor
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, NotFound, field_errors
from kefu.store.models import Order, Store
from kefu.tickets import portal, service
from kefu.tickets.schemas import ConversationMessage, TicketCreate
from kefu.web.templating import pick, render

router = APIRouter(include_in_schema=False)

# Types a customer may choose; the shop's own inactive types never show.
FORM_TYPES = ("inquiry", "logistics", "return_exchange", "refund", "invoice", "complaint", "other")
SUBMITS_PER_WINDOW = 5
WINDOW_S = 600.0


def _limiter(request: Request) -> RateLimiter:
    return app_limiter(request.app, "webform", SUBMITS_PER_WINDOW, WINDOW_S)


async def _store(session: AsyncSession, code: str) -> Store:
    store = await session.scalar(select(Store).where(Store.code == code, Store.is_active))
    if store is None:
        raise NotFound("找不到该店铺", "No such store")
    return store


async def _types(session: AsyncSession) -> list[tuple[str, str]]:
    kinds = await service.list_types(session)
    return [
        (k.code, pick(k.name_zh, k.name_en or k.name_zh)) for k in kinds if k.code in FORM_TYPES
    ]


async def _matching_order(
    session: AsyncSession, store: Store, order_no: str, phone: str | None
) -> Order | None:
    if not order_no or not phone:
        return None
    order = await session.scalar(
        select(Order).where(Order.store_id == store.id, Order.order_no == order_no)
    )
    if order is None or not order.receiver_phone:
        return None
    return order if order.receiver_phone[-4:] == phone[-4:] else None


def _page(
    request: Request,
    store: Store,
    types: list[tuple[str, str]],
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "helpcenter/contact.html",
        {"store": store, "types": types, "form": form, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/help/{store_code}/contact", response_class=HTMLResponse)
async def contact_form(request: Request, store_code: str, session: DbSession) -> Response:
    store = await _store(session, store_code)
    form = {"type_code": request.query_params.get("type", "inquiry")}
    return _page(request, store, await _types(session), form)


@router.post("/help/{store_code}/contact")
async def contact_submit(
    request: Request,
    store_code: str,
    session: DbSession,
    name: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    order_no: Annotated[str, Form(max_length=64)] = "",
    type_code: Annotated[str, Form(max_length=40)] = "inquiry",
    subject: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    website: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    await verify_csrf(request)
    store = await _store(session, store_code)
    types = await _types(session)
    form = {
        "name": name, "email": email, "phone": phone, "order_no": order_no.strip(),
        "type_code": type_code, "subject": subject, "description": description,
    }  # fmt: skip
    ip = request.client.host if request.client else "unknown"
    limiter = _limiter(request)
    if website or await limiter.is_limited(ip):
        # Bots fill the hidden field; both get the same calm answer and nothing is stored.
        msg = pick("提交太频繁，请稍后再试", "Too many submissions, please try again later")
        return _page(request, store, types, form, {"_form": msg}, status_code=429)

    errors: dict[str, str] = {}
    if not description.strip():
        errors["description"] = pick("请描述您的问题", "Please describe your question")
    if not email.strip() and not phone.strip():
        errors["email"] = pick(
            "请留下邮箱或手机号，方便我们联系您", "Leave an email or phone so we can reach you"
        )
    if type_code not in dict(types):
        errors["type_code"] = pick("请选择问题类型", "Please choose a type")
    data: TicketCreate | None = None
    if not errors:
        try:
            data = TicketCreate(
                subject=subject.strip() or description.strip()[:60],
                description=description.strip()
                + (f"\n\n订单号：{form['order_no']}" if form["order_no"] else ""),
                type_code=type_code,
                contact_name=name.strip(),
                contact_email=email or None,
                contact_phone=phone or None,
            )
        except ValidationError as exc:
            for err in field_errors(exc.errors()):
                field = err["field"].removeprefix("contact_")
                errors[field] = pick(err["message_zh"], err["message_en"])
    if errors or data is None:
        return _page(request, store, types, form, errors, status_code=422)

    await limiter.hit(ip)
    order = await _matching_order(session, store, form["order_no"], data.contact_phone)
    if order is not None:
        data = data.model_copy(update={"order_ids": [order.id], "customer_id": order.customer_id})
    actor = Actor("customer", None, name.strip()[:40] or "访客", ip)
    try:
        ticket = await service.create_ticket(
            session,
            actor,
            data,
            source="web_form",
            store_id=store.id,
            initial_messages=[
                ConversationMessage(sender="customer", body=data.description, sender_name=name)
            ],
        )
    except KefuError as exc:
        return _page(request, store, types, form, {"_form": pick(exc.zh, exc.en)}, exc.status)
    await session.commit()
    return RedirectResponse(f"/t/{portal.link_token(ticket.id)}?created=1", status_code=303)
