"""The learning queue page `/bot/learning` (机器人待学习问题), for those who write the
knowledge base. One form per group of alike questions; its buttons add the chosen messages as
similar questions of an entry, open the FAQ form pre-filled with them, or ignore them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.bot import learning
from kefu.bot.settings import bot_settings
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, KefuError
from kefu.core.i18n import gettext as _
from kefu.store.models import Store
from kefu.web.forms import label_picker, positive_int
from kefu.web.templating import flash, pick, render

router = APIRouter(include_in_schema=False)

KnowledgeWriter = Annotated[Principal, Require(Permission.knowledge_write)]
DEFAULT_DAYS = 7
MAX_DAYS = 92

REASON_LABELS: dict[str, tuple[str, str]] = {
    "none": ("未能回答", "Not understood"),
    "suggested": ("只给了推荐", "Only suggestions"),
    "low": ("低置信度回答", "Low-confidence answer"),
    "unhelpful": ("客户评价没帮助", "Rated not helpful"),
}
reason_label = label_picker(REASON_LABELS)


def _period(request: Request) -> tuple[date, date, KefuError | None]:
    """The chosen days (inclusive), in the shop's time zone; bad input falls back to the
    last week with a message."""
    tz = ZoneInfo(request.app.state.settings.default_timezone)
    today = datetime.now(tz).date()
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    since_text = request.query_params.get("since", "")
    until_text = request.query_params.get("until", "")
    if not since_text and not until_text:
        return *default, None
    try:
        since = date.fromisoformat(since_text) if since_text else default[0]
        until = date.fromisoformat(until_text) if until_text else today
    except ValueError:
        return *default, Invalid("日期格式不正确", "The date is not valid")
    if until < since:
        return *default, Invalid("结束日期不能早于开始日期", "The end date is before the start")
    if (until - since).days >= MAX_DAYS:
        since = until - timedelta(days=MAX_DAYS - 1)
    return since, until, None


def _bounds(request: Request, since: date, until: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(request.app.state.settings.default_timezone)
    return (
        datetime.combine(since, time(), tz),
        datetime.combine(until + timedelta(days=1), time(), tz),
    )


def _queue_url(store_id: int, since: str, until: str, anchor: str = "") -> str:
    query = urlencode(
        {k: v for k, v in (("store", store_id), ("since", since), ("until", until)) if v}
    )
    return f"/bot/learning?{query}" + (f"#{anchor}" if anchor else "")


@router.get("/bot/learning", response_class=HTMLResponse)
async def learning_queue_page(
    request: Request, session: DbSession, principal: KnowledgeWriter
) -> HTMLResponse:
    stores = list(await session.scalars(select(Store).order_by(Store.id)))
    wanted = positive_int(request.query_params.get("store"))
    store = next((s for s in stores if s.id == wanted), None) or next(
        (s for s in stores if bot_settings(s).enabled), stores[0] if stores else None
    )
    since, until, error = _period(request)
    groups: list[learning.QuestionGroup] = []
    if store is not None:
        groups = await learning.learning_queue(session, store.id, *_bounds(request, since, until))
    return render(
        request,
        "bot/learning.html",
        {
            "section": "knowledge",
            "stores": stores,
            "store": store,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "groups": groups,
            "messages": sum(g.count for g in groups),
            "reason_label": reason_label,
            "low_confidence": learning.LOW_CONFIDENCE,
            "error": error,
        },
    )


@router.post("/bot/learning/review")
async def review_questions(
    request: Request, session: DbSession, principal: KnowledgeWriter
) -> Response:
    form = await request.form()
    store_id = positive_int(str(form.get("store_id") or "")) or 0
    since, until = str(form.get("since") or ""), str(form.get("until") or "")
    anchor = str(form.get("group") or "")
    back = _queue_url(store_id, since, until)
    turn_ids = learning.parse_turn_ids(v for v in form.getlist("turns") if isinstance(v, str))
    action = form.get("action")
    try:
        if action == "similar":
            faq_id = positive_int(str(form.get("faq_id") or ""))
            if faq_id is None:
                raise Invalid("请先选择要加入的问答", "Choose the FAQ entry to add them to")
            added = await learning.add_as_similar(
                session, principal.actor, store_id, turn_ids, faq_id
            )
            flash(
                request,
                _("%(n)d question(s) added to the FAQ entry as similar questions.")
                % {"n": len(added.added)},
            )
        elif action == "new_faq":
            draft = await learning.draft_new_faq(session, store_id, turn_ids)
            query = urlencode(
                [
                    ("question", draft.question),
                    *(("similar", s) for s in draft.similar),
                    ("learning", ",".join(map(str, draft.turn_ids))),
                ]
            )
            return RedirectResponse(f"/knowledge/faqs/new?{query}", status_code=303)
        elif action == "ignore":
            count = await learning.ignore_questions(session, principal.actor, store_id, turn_ids)
            flash(request, _("%(n)d message(s) ignored.") % {"n": count})
        else:
            raise Invalid("未知操作", "Unknown action")
    except KefuError as exc:
        await session.rollback()  # nothing half-done; the message is kept in the cookie
        flash(request, pick(exc.zh, exc.en), "error")
        return RedirectResponse(_queue_url(store_id, since, until, anchor), status_code=303)
    return RedirectResponse(back, status_code=303)
