"""Knowledge-base pages: the agents' FAQ list and editor, internal articles, import/export,
and the public help center of each store at /help/{store_code}.

Agents read (knowledge.read); supervisors and QA edit (knowledge.write). Forms that fail
validation are shown again with what was typed and the problem next to the field. Every
answer reaches a page only through the sanitiser (`content.safe_html`).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.bot import learning
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, NotFound, field_errors
from kefu.core.i18n import gettext as _
from kefu.core.i18n import lazy_pair
from kefu.knowledge import service
from kefu.knowledge.api import export_response, read_upload, run_import
from kefu.knowledge.content import render_markdown, safe_html
from kefu.knowledge.models import Article, Faq
from kefu.knowledge.schemas import CHANNEL_LABELS, CHANNELS, ArticleIn, FaqIn
from kefu.knowledge.search import search_entries
from kefu.store.models import Store
from kefu.web.templating import flash, pick, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Require(Permission.knowledge_read)]
Writer = Annotated[Principal, Require(Permission.knowledge_write)]

HELP_CHANNEL = "help"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.default_timezone)


def _local_input(value: datetime | None, tz: ZoneInfo) -> str:
    """A UTC datetime as the value of a datetime-local input, in the shop's time zone."""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if value else ""


def _parse_local(text: str, tz: ZoneInfo) -> datetime | str | None:
    """datetime-local text → aware datetime; unparseable text is passed on for validation."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=tz)
    except ValueError:
        return text


def channel_label(code: str) -> str:
    pair = CHANNEL_LABELS.get(code)
    return pick(*pair) if pair else code


def status_label(status: str) -> tuple[str, str]:
    """(label, dot colour) of a FAQ status."""
    return {
        "active": (_("Answering"), "green"),
        "scheduled": (_("Not yet valid"), "amber"),
        "expired": (_("Expired"), "grey"),
        "disabled": (_("Disabled"), "red"),
    }[status]


async def _stores(session: AsyncSession) -> list[Store]:
    return list((await session.scalars(select(Store).order_by(Store.name))).all())


def _page_links(request: Request, page: int, total: int, per_page: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / per_page))
    params = dict(request.query_params)

    def url(n: int) -> str:
        return "?" + urlencode({**params, "page": str(n)})

    return {
        "page": page,
        "pages": pages,
        "total": total,
        "prev": url(page - 1) if page > 1 else None,
        "next": url(page + 1) if page < pages else None,
    }


# --------------------------------------------------------------------------- FAQ list


@router.get("/knowledge", response_class=HTMLResponse)
async def faq_list(
    request: Request,
    session: DbSession,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=60)] = "",
    store: Annotated[str, Query(max_length=20)] = "",
    state: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    enabled = {"enabled": True, "disabled": False, "active": True}.get(state)
    validity: Any = state if state in ("current", "scheduled", "expired") else None
    if state == "active":  # what the bot answers with now: enabled and within the period
        validity = "current"
    store_id = int(store) if store.isdigit() else None
    filters = service.FaqFilters(q, category, store_id, enabled, validity)
    rows, total = await service.list_faqs(session, filters, page)
    scopes = await service.faq_store_ids(session, [f.id for f in rows])
    stores = await _stores(session)
    store_names = {s.id: s.name for s in stores}
    items = [
        {
            "faq": f,
            "status": service.faq_status(f),
            "stores": [store_names.get(i, str(i)) for i in scopes[f.id]],
            "channels": [channel_label(c) for c in f.channels or []],
        }
        for f in rows
    ]
    return render(
        request,
        "knowledge/faq_list.html",
        {
            "section": "knowledge",
            "tab": "faq",
            "items": items,
            "filters": {"q": q, "category": category, "store": store, "state": state},
            "filtered": bool(q or category or store or state),
            "categories": await service.faq_categories(session),
            "stores": stores,
            "counts": await service.faq_counts(session),
            "article_count": (await service.list_articles(session, service.ArticleFilters()))[1],
            "pager": _page_links(request, page, total, service.PER_PAGE),
            "status_label": status_label,
            "help_store": next((s for s in stores if s.is_active), None),
        },
    )


# --------------------------------------------------------------------------- FAQ editor


def _faq_form_values(faq: Faq | None, store_ids: list[int], tz: ZoneInfo) -> dict[str, Any]:
    if faq is None:
        return {
            "external_id": "",
            "question": "",
            "similar": [],
            "answer": "",
            "category": "",
            "scope": "all",
            "store_ids": [],
            "channels": [],
            "valid_from": "",
            "valid_until": "",
            "enabled": True,
            "version": 0,
        }
    return {
        "external_id": faq.external_id or "",
        "question": faq.question,
        "similar": list(faq.similar or []),
        "answer": faq.answer,
        "category": faq.category,
        "scope": "all" if faq.all_stores else "some",
        "store_ids": store_ids,
        "channels": list(faq.channels or []),
        "valid_from": _local_input(faq.valid_from, tz),
        "valid_until": _local_input(faq.valid_until, tz),
        "enabled": faq.enabled,
        "version": faq.version,
    }


async def _faq_form_from_request(request: Request) -> dict[str, Any]:
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    version = text("version")
    return {
        "external_id": text("external_id"),
        "question": text("question"),
        "similar": [s for s in form.getlist("similar") if isinstance(s, str)],
        "answer": text("answer"),
        "category": text("category"),
        "scope": "some" if text("scope") == "some" else "all",
        "store_ids": [
            int(s) for s in form.getlist("store_ids") if isinstance(s, str) and s.isdigit()
        ],
        "channels": [c for c in form.getlist("channels") if c in CHANNELS],
        "valid_from": text("valid_from"),
        "valid_until": text("valid_until"),
        "enabled": form.get("enabled") == "on",
        "version": int(version) if version.isdigit() else 0,
        "learning": text("learning"),
    }


def _faq_in(values: dict[str, Any], tz: ZoneInfo) -> FaqIn:
    return FaqIn.model_validate(
        {
            "external_id": values["external_id"] or None,
            "question": values["question"],
            "similar": values["similar"],
            "answer": values["answer"],
            "category": values["category"],
            "all_stores": values["scope"] == "all",
            "store_ids": values["store_ids"],
            "channels": values["channels"],
            "valid_from": _parse_local(values["valid_from"], tz),
            "valid_until": _parse_local(values["valid_until"], tz),
            "enabled": values["enabled"],
        }
    )


def _errors_by_field(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in field_errors(list(exc.errors())):
        name = err["field"].split(".")[0] or "_form"
        name = {"store_ids": "stores", "all_stores": "stores"}.get(name, name)
        out.setdefault(name, lazy_pair(err["message_zh"], err["message_en"]))
    return out


async def _faq_form_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    faq: Faq | None,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    errors = dict(errors or {})
    if "_form" in errors and error is None:
        message = errors.pop("_form")
        error = KefuError(message, message)
    return render(
        request,
        "knowledge/faq_form.html",
        {
            "section": "knowledge",
            "faq": faq,
            "form": values,
            "errors": errors,
            "error": error,
            "stores": await _stores(session),
            "categories": await service.faq_categories(session),
            "channels": [(c, channel_label(c)) for c in CHANNELS],
            "status": service.faq_status(faq) if faq else None,
            "status_label": status_label,
            "editable": principal.can(Permission.knowledge_write),
            "answer_preview": Markup(render_markdown(values["answer"])),
        },
        status_code,
    )


@router.get("/knowledge/faqs/new", response_class=HTMLResponse)
async def faq_new(request: Request, session: DbSession, principal: Writer) -> Response:
    values = _faq_form_values(None, [], _tz(request))
    category = request.query_params.get("category", "")[:60]
    values["category"] = category
    # Opened from the bot's learning queue: its questions, and which messages they came from.
    values["question"] = request.query_params.get("question", "")[:300]
    values["similar"] = [s[:300] for s in request.query_params.getlist("similar")[:50]]
    values["learning"] = request.query_params.get("learning", "")[:2000]
    return await _faq_form_page(request, session, principal, None, values)


@router.post("/knowledge/faqs/new")
async def faq_create(request: Request, session: DbSession, principal: Writer) -> Response:
    values = await _faq_form_from_request(request)
    try:
        faq = await service.create_faq(session, principal.actor, _faq_in(values, _tz(request)))
    except ValidationError as exc:
        return await _faq_form_page(
            request, session, principal, None, values, errors=_errors_by_field(exc), status_code=422
        )
    except KefuError as exc:
        return await _faq_form_page(
            request, session, principal, None, values, error=exc, status_code=exc.status
        )
    if values["learning"]:
        turn_ids = learning.parse_turn_ids([values["learning"]])
        await learning.record_new_faq(session, principal.actor, faq.id, turn_ids)
    flash(request, _("FAQ entry created."))
    return _redirect(f"/knowledge/faqs/{faq.id}")


@router.get("/knowledge/faqs/{faq_id}", response_class=HTMLResponse)
async def faq_edit(
    request: Request, session: DbSession, principal: Reader, faq_id: int
) -> Response:
    faq = await service.get_faq(session, faq_id)
    stores = (await service.faq_store_ids(session, [faq.id]))[faq.id]
    values = _faq_form_values(faq, stores, _tz(request))
    return await _faq_form_page(request, session, principal, faq, values)


@router.post("/knowledge/faqs/{faq_id}")
async def faq_save(
    request: Request, session: DbSession, principal: Writer, faq_id: int
) -> Response:
    faq = await service.get_faq(session, faq_id)
    values = await _faq_form_from_request(request)
    try:
        data = _faq_in(values, _tz(request))
        await service.update_faq(
            session, principal.actor, faq_id, data, expected_version=values["version"] or None
        )
    except ValidationError as exc:
        return await _faq_form_page(
            request, session, principal, faq, values, errors=_errors_by_field(exc), status_code=422
        )
    except KefuError as exc:
        return await _faq_form_page(
            request, session, principal, faq, values, error=exc, status_code=exc.status
        )
    flash(request, _("Changes saved."))
    return _redirect(f"/knowledge/faqs/{faq_id}")


def _back(request: Request, default: str) -> str:
    target = request.headers.get("referer", "")
    base = str(request.base_url)
    if target.startswith(base):
        return "/" + target[len(base) :]
    return default


@router.post("/knowledge/faqs/{faq_id}/enable")
async def faq_enable(
    request: Request, session: DbSession, principal: Writer, faq_id: int
) -> Response:
    faq = await service.set_faq_enabled(session, principal.actor, faq_id, True)
    flash(request, _("Enabled: %(question)s") % {"question": faq.question})
    return _redirect(_back(request, "/knowledge"))


@router.post("/knowledge/faqs/{faq_id}/disable")
async def faq_disable(
    request: Request, session: DbSession, principal: Writer, faq_id: int
) -> Response:
    faq = await service.set_faq_enabled(session, principal.actor, faq_id, False)
    flash(request, _("Disabled: %(question)s") % {"question": faq.question}, "info")
    return _redirect(_back(request, "/knowledge"))


@router.post("/knowledge/faqs/{faq_id}/delete")
async def faq_delete(
    request: Request, session: DbSession, principal: Writer, faq_id: int
) -> Response:
    faq = await service.get_faq(session, faq_id)
    question = faq.question
    await service.delete_faq(session, principal.actor, faq_id)
    flash(request, _("Deleted: %(question)s") % {"question": question}, "info")
    return _redirect("/knowledge")


_FIELD_LABELS = {
    "external_id": ("编号", "ID"),
    "question": ("标准问题", "Question"),
    "similar": ("相似问题", "Similar questions"),
    "answer": ("答案", "Answer"),
    "category": ("分类", "Category"),
    "all_stores": ("适用店铺", "Stores"),
    "store_ids": ("适用店铺", "Stores"),
    "channels": ("渠道", "Channels"),
    "valid_from": ("生效时间", "Valid from"),
    "valid_until": ("失效时间", "Valid until"),
    "enabled": ("启用", "Enabled"),
    "deleted": ("删除", "Deleted"),
    "title": ("标题", "Title"),
    "body": ("正文", "Body"),
    "tags": ("标签", "Tags"),
}
_ACTION_LABELS = {
    "create": ("创建", "Created"),
    "update": ("修改", "Edited"),
    "enable": ("启用", "Enabled"),
    "disable": ("停用", "Disabled"),
    "delete": ("删除", "Deleted"),
    "restore": ("恢复", "Restored"),
}


def _show(name: str, value: Any, store_names: dict[int, str], tz: ZoneInfo) -> str:
    """A snapshot value as people read it: 是/否, store names, local times, one per line."""
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return pick("是", "Yes") if value else pick("否", "No")
    if name == "store_ids":
        return "、".join(store_names.get(i, str(i)) for i in value)
    if name == "channels":
        return "、".join(channel_label(c) for c in value)
    if name in ("valid_from", "valid_until") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def _history_context(
    versions: list[service.VersionView], store_names: dict[int, str], tz: ZoneInfo
) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(versions):
        previous = versions[i + 1].snapshot if i + 1 < len(versions) else {}
        out.append(
            {
                "v": v,
                "action": pick(*_ACTION_LABELS.get(v.action, (v.action, v.action))),
                "changes": [
                    {
                        "label": pick(*_FIELD_LABELS.get(name, (name, name))),
                        "before": _show(name, previous.get(name), store_names, tz),
                        "after": _show(name, v.snapshot.get(name), store_names, tz),
                    }
                    for name in v.changed
                ],
            }
        )
    return out


@router.get("/knowledge/faqs/{faq_id}/history", response_class=HTMLResponse)
async def faq_history(
    request: Request, session: DbSession, principal: Reader, faq_id: int
) -> Response:
    faq = await service.get_faq(session, faq_id, include_deleted=True)
    versions = await service.history(session, "faq", faq_id)
    return render(
        request,
        "knowledge/history.html",
        {
            "section": "knowledge",
            "title": faq.question,
            "back": f"/knowledge/faqs/{faq.id}" if faq.deleted_at is None else "/knowledge",
            "entries": _history_context(
                versions, {st.id: st.name for st in await _stores(session)}, _tz(request)
            ),
            "kind": "faq",
        },
    )


@router.post("/knowledge/preview", response_class=HTMLResponse)
async def preview(
    principal: Writer, text: Annotated[str, Form(max_length=100000)] = ""
) -> HTMLResponse:
    """The editor's preview: exactly what customers will see, sanitised."""
    return HTMLResponse(render_markdown(text) or "")


# --------------------------------------------------------------------------- import / export


@router.get("/knowledge/import", response_class=HTMLResponse)
async def import_page(request: Request, principal: Writer) -> Response:
    return render(request, "knowledge/import.html", {"section": "knowledge", "report": None})


@router.post("/knowledge/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    session: DbSession,
    principal: Writer,
    file: Annotated[UploadFile | None, File()] = None,
    skip_invalid: Annotated[bool, Form()] = False,
) -> Response:
    ctx: dict[str, Any] = {"section": "knowledge", "report": None, "skip_invalid": skip_invalid}
    if file is None or not file.filename:
        ctx["error"] = KefuError("请选择要导入的文件", "Choose a file to import")
        return render(request, "knowledge/import.html", ctx, 422)
    try:
        data, fmt = await read_upload(request, file)
        report = await run_import(session, principal, data, fmt, skip_invalid)
    except KefuError as exc:
        ctx["error"] = exc
        return render(request, "knowledge/import.html", ctx, exc.status)
    ctx.update(report=report, filename=file.filename)
    return render(request, "knowledge/import.html", ctx, 200 if report.applied else 422)


@router.get("/knowledge/export.{fmt}")
async def export(session: DbSession, principal: Reader, fmt: Literal["json", "xlsx"]) -> Response:
    return await export_response(session, fmt)


# --------------------------------------------------------------------------- articles


@router.get("/knowledge/articles", response_class=HTMLResponse)
async def article_list(
    request: Request,
    session: DbSession,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=60)] = "",
    tag: Annotated[str, Query(max_length=30)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    rows, total = await service.list_articles(
        session, service.ArticleFilters(q, category, tag), page
    )
    categories, tags = await service.article_facets(session)
    return render(
        request,
        "knowledge/article_list.html",
        {
            "section": "knowledge",
            "tab": "articles",
            "articles": rows,
            "filters": {"q": q, "category": category, "tag": tag},
            "filtered": bool(q or category or tag),
            "categories": categories,
            "tags": tags,
            "counts": await service.faq_counts(session),
            "article_count": (await service.list_articles(session, service.ArticleFilters()))[1],
            "pager": _page_links(request, page, total, service.PER_PAGE),
        },
    )


def _article_values(article: Article | None) -> dict[str, Any]:
    if article is None:
        return {"title": "", "body": "", "category": "", "tags": "", "version": 0}
    return {
        "title": article.title,
        "body": article.body,
        "category": article.category,
        "tags": "、".join(article.tags or []),
        "version": article.version,
    }


async def _article_form_page(
    request: Request,
    session: AsyncSession,
    article: Article | None,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    errors = dict(errors or {})
    if "_form" in errors and error is None:
        message = errors.pop("_form")
        error = KefuError(message, message)
    categories, _tags = await service.article_facets(session)
    return render(
        request,
        "knowledge/article_form.html",
        {
            "section": "knowledge",
            "article": article,
            "form": values,
            "errors": errors,
            "error": error,
            "categories": categories,
            "body_preview": Markup(render_markdown(values["body"])),
        },
        status_code,
    )


async def _article_form_from_request(request: Request) -> dict[str, Any]:
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    version = text("version")
    return {
        "title": text("title"),
        "body": text("body"),
        "category": text("category"),
        "tags": text("tags"),
        "version": int(version) if version.isdigit() else 0,
    }


def _article_in(values: dict[str, Any]) -> ArticleIn:
    import re

    tags = [t for t in re.split(r"[,，、;；\s]+", values["tags"]) if t]
    return ArticleIn.model_validate(
        {
            "title": values["title"],
            "body": values["body"],
            "category": values["category"],
            "tags": tags,
        }
    )


@router.get("/knowledge/articles/new", response_class=HTMLResponse)
async def article_new(request: Request, session: DbSession, principal: Writer) -> Response:
    return await _article_form_page(request, session, None, _article_values(None))


@router.post("/knowledge/articles/new")
async def article_create(request: Request, session: DbSession, principal: Writer) -> Response:
    values = await _article_form_from_request(request)
    try:
        article = await service.create_article(session, principal.actor, _article_in(values))
    except ValidationError as exc:
        return await _article_form_page(
            request, session, None, values, errors=_errors_by_field(exc), status_code=422
        )
    flash(request, _("Article published."))
    return _redirect(f"/knowledge/articles/{article.id}")


@router.get("/knowledge/articles/{article_id}", response_class=HTMLResponse)
async def article_view(
    request: Request, session: DbSession, principal: Reader, article_id: int
) -> Response:
    article = await service.get_article(session, article_id)
    return render(
        request,
        "knowledge/article_view.html",
        {
            "section": "knowledge",
            "article": article,
            "body_html": Markup(safe_html(article.body_html)),
        },
    )


@router.get("/knowledge/articles/{article_id}/edit", response_class=HTMLResponse)
async def article_edit(
    request: Request, session: DbSession, principal: Writer, article_id: int
) -> Response:
    article = await service.get_article(session, article_id)
    return await _article_form_page(request, session, article, _article_values(article))


@router.post("/knowledge/articles/{article_id}/edit")
async def article_save(
    request: Request, session: DbSession, principal: Writer, article_id: int
) -> Response:
    article = await service.get_article(session, article_id)
    values = await _article_form_from_request(request)
    try:
        await service.update_article(
            session,
            principal.actor,
            article_id,
            _article_in(values),
            expected_version=values["version"] or None,
        )
    except ValidationError as exc:
        return await _article_form_page(
            request, session, article, values, errors=_errors_by_field(exc), status_code=422
        )
    except KefuError as exc:
        return await _article_form_page(
            request, session, article, values, error=exc, status_code=exc.status
        )
    flash(request, _("Changes saved."))
    return _redirect(f"/knowledge/articles/{article_id}")


@router.post("/knowledge/articles/{article_id}/delete")
async def article_delete(
    request: Request, session: DbSession, principal: Writer, article_id: int
) -> Response:
    article = await service.get_article(session, article_id)
    title = article.title
    await service.delete_article(session, principal.actor, article_id)
    flash(request, _("Deleted: %(question)s") % {"question": title}, "info")
    return _redirect("/knowledge/articles")


@router.get("/knowledge/articles/{article_id}/history", response_class=HTMLResponse)
async def article_history(
    request: Request, session: DbSession, principal: Reader, article_id: int
) -> Response:
    article = await service.get_article(session, article_id)
    versions = await service.history(session, "article", article_id)
    return render(
        request,
        "knowledge/history.html",
        {
            "section": "knowledge",
            "title": article.title,
            "back": f"/knowledge/articles/{article.id}",
            "entries": _history_context(versions, {}, _tz(request)),
            "kind": "article",
        },
    )


# --------------------------------------------------------------------------- help center


@router.get("/help/{store_code}", response_class=HTMLResponse)
async def help_center(
    request: Request,
    session: DbSession,
    store_code: str,
    q: Annotated[str, Query(max_length=100)] = "",
    channel: Annotated[str, Query(max_length=10)] = HELP_CHANNEL,
) -> Response:
    """Public: the store's self-service FAQ. Shows only what is enabled, valid now and meant
    for this store and channel; nothing about agents, drafts or other stores."""
    store = await session.scalar(
        select(Store).where(Store.code == store_code, Store.is_active.is_(True))
    )
    if store is None:
        raise NotFound("找不到该店铺的帮助中心", "No help center for this store")
    channel = channel if channel in CHANNELS else HELP_CHANNEL
    entries = await service.active_faq_entries(session, store.id, channel)
    query = " ".join(q.split())
    hits = await asyncio.to_thread(search_entries, entries, query) if query else []
    groups: dict[str, list[service.ActiveFaq]] = {}
    for entry in entries:
        groups.setdefault(entry.category or _("Other questions"), []).append(entry)
    response = render(
        request,
        "helpcenter/index.html",
        {
            "store": store,
            "query": query,
            "hits": [h.entry for h in hits],
            "groups": groups,
            "total": len(entries),
            "channel": channel,
            "answer": lambda e: Markup(safe_html(e.answer_html)),
        },
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


# Canned replies live in their own module; their pages sit under /knowledge.
from kefu.knowledge.canned_pages import router as _canned_pages  # noqa: E402

router.include_router(_canned_pages)
