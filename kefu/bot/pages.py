"""Bot settings pages: `/settings/bot` (every store's bot at a glance) and
`/settings/bot/{store_id}` (on/off, mode, thresholds, handover rules). Open to those who manage
settings or write the knowledge base; the form posts to `settings.save_bot_settings`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group
from kefu.bot.deps import BotEditor
from kefu.bot.learning_pages import router as learning_router
from kefu.bot.models import BotTurn
from kefu.bot.report_pages import router as report_router
from kefu.bot.settings import COMPLAINT_WORDS, BotSettings, bot_settings, save_bot_settings
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, KefuError, NotFound
from kefu.core.i18n import gettext as _
from kefu.store.models import Store
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)
router.include_router(learning_router)  # /bot/learning
router.include_router(report_router)  # /bot/reports
STATS_DAYS = 7


async def _stats(session: AsyncSession) -> dict[int, dict[str, int]]:
    """Turns, answered and handed over per store over the last days."""
    since = utcnow() - timedelta(days=STATS_DAYS)
    rows = await session.execute(
        select(
            BotTurn.store_id,
            func.count(),
            func.sum(case((BotTurn.outcome.in_(("answered", "action")), 1), else_=0)),
            func.sum(case((BotTurn.outcome == "handoff", 1), else_=0)),
        )
        .where(BotTurn.created_at >= since)
        .group_by(BotTurn.store_id)
    )
    return {
        store_id: {"turns": int(n), "solved": int(ok or 0), "handoffs": int(h or 0)}
        for store_id, n, ok, h in rows.all()
    }


@router.get("/settings/bot", response_class=HTMLResponse)
async def bot_index(request: Request, session: DbSession, principal: BotEditor) -> HTMLResponse:
    stores = list(await session.scalars(select(Store).order_by(Store.id)))
    return render(
        request,
        "bot/index.html",
        {
            "section": "settings",
            "rows": [(s, bot_settings(s)) for s in stores],
            "stats": await _stats(session),
            "days": STATS_DAYS,
        },
    )


async def _store(session: AsyncSession, store_id: int) -> Store:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    return store


async def _page(
    request: Request,
    session: AsyncSession,
    store: Store,
    *,
    settings: BotSettings | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "bot/settings.html",
        {
            "section": "settings",
            "store": store,
            "bot": settings or bot_settings(store),
            "groups": list(await session.scalars(select(Group).order_by(Group.name))),
            "complaint_words": COMPLAINT_WORDS,
            "llm_configured": bool(request.app.state.settings.llm_base_url),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/settings/bot/{store_id}", response_class=HTMLResponse)
async def bot_settings_page(
    request: Request, store_id: int, session: DbSession, principal: BotEditor
) -> HTMLResponse:
    return await _page(request, session, await _store(session, store_id))


def _form_to_settings(form: Any) -> dict[str, Any]:
    def number(name: str, default: str) -> str:
        value = str(form.get(name) or "").strip()
        return value or default

    words = str(form.get("handoff_keywords") or "").replace("，", " ").replace(",", " ")
    return {
        "enabled": form.get("enabled") == "on",
        "mode": form.get("mode") or "first",
        "name": str(form.get("name") or "").strip() or "智能助手",
        "answer_threshold": number("answer_threshold", "0.6"),
        "suggest_threshold": number("suggest_threshold", "0.3"),
        "low_confidence_turns": number("low_confidence_turns", "2"),
        "negative_threshold": number("negative_threshold", "0.9"),
        "vip_handoff": form.get("vip_handoff") == "on",
        "handoff_keywords": words.split(),
        "ship_within_hours": number("ship_within_hours", "48"),
        "warehouse_group": str(form.get("warehouse_group") or ""),
        "llm_rephrase": form.get("llm_rephrase") == "on",
    }


@router.post("/settings/bot/{store_id}", response_class=HTMLResponse)
async def save_bot_settings_page(
    request: Request, store_id: int, session: DbSession, principal: BotEditor
) -> Response:
    store = await _store(session, store_id)
    form = await request.form()
    try:
        await save_bot_settings(session, principal.actor, store.id, _form_to_settings(form))
    except Invalid as exc:
        # Validation happens before anything is written: the stored settings are shown again.
        return await _page(request, session, store, error=exc, status_code=422)
    flash(request, _("Bot settings of %(name)s saved.") % {"name": store.name})
    return RedirectResponse(f"/settings/bot/{store.id}", status_code=303)
