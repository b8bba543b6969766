"""HTML pages for managing canned replies (快捷回复) at /knowledge/canned.

Every agent manages their own personal replies here; shared replies are listed for everyone
and editable by those with knowledge.write.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, field_errors
from kefu.core.i18n import gettext as _
from kefu.core.i18n import lazy_pair
from kefu.knowledge import canned_service as service
from kefu.knowledge.canned_models import CannedReply
from kefu.knowledge.canned_service import VARIABLES, CannedFilters, CannedIn, Scope
from kefu.store.models import Store
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)

Agent = Annotated[Principal, Require(Permission.inbox_use)]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _stores(session: AsyncSession) -> list[Store]:
    return list((await session.scalars(select(Store).order_by(Store.name))).all())


@router.get("/knowledge/canned", response_class=HTMLResponse)
async def canned_list(
    request: Request,
    session: DbSession,
    principal: Agent,
    tab: Annotated[str, Query(max_length=20)] = "personal",
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    scope: Scope = "shared" if tab == "shared" else "personal"
    rows = await service.list_canned(session, principal, CannedFilters(q=q, scope=scope))
    counts = {
        "personal": len(
            await service.list_canned(session, principal, CannedFilters(scope="personal"))
        ),
        "shared": len(await service.list_canned(session, principal, CannedFilters(scope="shared"))),
    }
    stores = {s.id: s.name for s in await _stores(session)}
    return render(
        request,
        "knowledge/canned_list.html",
        {
            "section": "knowledge",
            "tab": scope,
            "q": q,
            "groups": _regroup(rows),
            "counts": counts,
            "stores": stores,
            "can_edit": lambda r: service.can_edit(principal, r),
        },
    )


def _regroup(rows: list[CannedReply]) -> list[tuple[str, list[CannedReply]]]:
    grouped: dict[str, list[CannedReply]] = {}
    for r in rows:
        grouped.setdefault(r.category, []).append(r)
    return sorted(grouped.items())


def _values(reply: CannedReply | None, shared: bool) -> dict[str, Any]:
    if reply is None:
        return {
            "title": "",
            "body": "",
            "shortcut": "",
            "category": "",
            "store_id": "",
            "shared": shared,
            "is_active": True,
        }
    return {
        "title": reply.title,
        "body": reply.body,
        "shortcut": reply.shortcut,
        "category": reply.category,
        "store_id": str(reply.store_id or ""),
        "shared": reply.owner_id is None,
        "is_active": reply.is_active,
    }


async def _form_values(request: Request) -> dict[str, Any]:
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    return {
        "title": text("title"),
        "body": text("body"),
        "shortcut": text("shortcut"),
        "category": text("category"),
        "store_id": text("store_id"),
        "shared": text("shared") == "1",
        "is_active": text("is_active") == "1",
    }


def _data(values: dict[str, Any]) -> CannedIn:
    store = values["store_id"]
    return CannedIn(
        title=values["title"],
        body=values["body"],
        shortcut=values["shortcut"],
        category=values["category"],
        store_id=int(store) if store.isdigit() else None,
        shared=values["shared"],
        is_active=values["is_active"],
    )


def _errors(exc: ValidationError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for err in field_errors(list(exc.errors())):
        name = err["field"].split(".")[0] or "_form"
        out.setdefault(name, lazy_pair(err["message_zh"], err["message_en"]))
    return out


async def _form_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    reply: CannedReply | None,
    values: dict[str, Any],
    *,
    errors: dict[str, Any] | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    categories = sorted(
        {r.category for r in await service.list_canned(session, principal, CannedFilters())} - {""}
    )
    return render(
        request,
        "knowledge/canned_form.html",
        {
            "section": "knowledge",
            "reply": reply,
            "form": values,
            "errors": errors or {},
            "error": error,
            "stores": await _stores(session),
            "categories": categories,
            "variables": ["{{" + v + "}}" for v in VARIABLES],
            "can_share": principal.can(Permission.knowledge_write),
        },
        status_code,
    )


@router.get("/knowledge/canned/new", response_class=HTMLResponse)
async def canned_new(
    request: Request,
    session: DbSession,
    principal: Agent,
    tab: Annotated[str, Query(max_length=20)] = "personal",
) -> Response:
    shared = tab == "shared" and principal.can(Permission.knowledge_write)
    return await _form_page(request, session, principal, None, _values(None, shared))


@router.post("/knowledge/canned/new")
async def canned_create(request: Request, session: DbSession, principal: Agent) -> Response:
    values = await _form_values(request)
    try:
        reply = await service.create_canned(session, principal, _data(values))
    except ValidationError as exc:
        return await _form_page(
            request, session, principal, None, values, errors=_errors(exc), status_code=422
        )
    except KefuError as exc:
        return await _form_page(
            request, session, principal, None, values, error=exc, status_code=exc.status
        )
    flash(request, _("Canned reply created."))
    return _redirect(f"/knowledge/canned?tab={'shared' if reply.owner_id is None else 'personal'}")


@router.get("/knowledge/canned/{reply_id}", response_class=HTMLResponse)
async def canned_edit(
    request: Request, session: DbSession, principal: Agent, reply_id: int
) -> Response:
    reply = await service.get_canned(session, principal, reply_id)
    return await _form_page(
        request, session, principal, reply, _values(reply, reply.owner_id is None)
    )


@router.post("/knowledge/canned/{reply_id}")
async def canned_update(
    request: Request, session: DbSession, principal: Agent, reply_id: int
) -> Response:
    reply = await service.get_canned(session, principal, reply_id)
    values = await _form_values(request)
    values["shared"] = reply.owner_id is None  # fixed at creation
    try:
        await service.update_canned(session, principal, reply_id, _data(values))
    except ValidationError as exc:
        return await _form_page(
            request, session, principal, reply, values, errors=_errors(exc), status_code=422
        )
    except KefuError as exc:
        return await _form_page(
            request, session, principal, reply, values, error=exc, status_code=exc.status
        )
    flash(request, _("Canned reply saved."))
    return _redirect(f"/knowledge/canned?tab={'shared' if values['shared'] else 'personal'}")


@router.post("/knowledge/canned/{reply_id}/delete")
async def canned_delete(
    request: Request, session: DbSession, principal: Agent, reply_id: int
) -> Response:
    reply = await service.get_canned(session, principal, reply_id)
    tab = "shared" if reply.owner_id is None else "personal"
    await service.delete_canned(session, principal, reply_id)
    flash(request, _("Canned reply deleted."))
    return _redirect(f"/knowledge/canned?tab={tab}")
