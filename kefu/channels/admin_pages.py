"""Chat routing settings of a store: `/settings/stores/{id}/chat` (needs `stores.manage`).

Auto or manual assignment, the strategy, the skill group of each entry point (售前, 售后 …),
VIP first, the sticky-agent window, the chat's business hours and, per skill group, its own
hours and overflow group (fields `g<group id>_…`). The page posts a plain form;
`routing_settings.save_chat_routing` validates and audits it.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from kefu.accounts.deps import Principal, Require
from kefu.accounts.models import Group
from kefu.accounts.permissions import Permission
from kefu.conversations.routing import routing_mode
from kefu.conversations.routing_settings import (
    ChatRouting,
    GroupRule,
    chat_routing,
    save_chat_routing,
)
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, KefuError, NotFound
from kefu.core.i18n import gettext as _
from kefu.store.models import Store
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)

StoreAdmin = Annotated[Principal, Require(Permission.stores_manage)]
ENTRY_ROWS = 4
_GROUP_ROW = re.compile(r"^g(\d+)_when$")
TRIGGERS = [
    ("no_agent", "无可接待客服时", "When nobody in the group can take it"),
    ("wait_over", "排队等待超过（秒）", "When the wait exceeds (seconds)"),
    ("queue_over", "排队人数达到（人）", "When the queue reaches (chats)"),
]
WEEKDAYS = [("周一", "Mon"), ("周二", "Tue"), ("周三", "Wed"), ("周四", "Thu"), ("周五", "Fri"),
            ("周六", "Sat"), ("周日", "Sun")]  # fmt: skip


async def _store(session: DbSession, store_id: int) -> Store:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    return store


async def _page(
    request: Request,
    session: DbSession,
    store: Store,
    *,
    routing: ChatRouting | None = None,
    auto: bool | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = routing or chat_routing(store)
    entries = [e.model_dump() for e in current.entries]
    entries += [{"topic": "", "label": "", "group_id": None}] * (ENTRY_ROWS - len(entries))
    return render(
        request,
        "channels/routing_settings.html",
        {
            "section": "settings",
            "store": store,
            "routing": current,
            "auto": routing_mode(store) == "auto" if auto is None else auto,
            "entries": entries,
            "groups": list(await session.scalars(select(Group).order_by(Group.name))),
            "weekdays": WEEKDAYS,
            "triggers": TRIGGERS,
            "group_rules": {g: r for g, r in current.groups.items()},
            "blank_rule": GroupRule(),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/settings/stores/{store_id}/chat", response_class=HTMLResponse)
async def chat_settings_page(
    request: Request, store_id: int, session: DbSession, principal: StoreAdmin
) -> HTMLResponse:
    return await _page(request, session, await _store(session, store_id))


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _form_to_settings(form: Any) -> dict[str, Any]:
    entries = []
    for i in range(ENTRY_ROWS):
        topic, label = (
            (form.get(f"topic_{i}") or "").strip(),
            (form.get(f"label_{i}") or "").strip(),
        )
        if topic or label:
            entries.append(
                {"topic": topic, "label": label, "group_id": _int_or_none(form.get(f"group_{i}"))}
            )
    sticky = (form.get("sticky_days") or "0").strip()
    return {
        "strategy": form.get("strategy") or "least_busy",
        "default_group_id": _int_or_none(form.get("default_group_id")),
        "entries": entries,
        "vip_first": form.get("vip_first") == "on",
        "sticky_days": sticky if sticky.isdigit() else -1,
        "hours": {
            "enabled": form.get("hours_enabled") == "on",
            "day_start": form.get("day_start") or time(9, 0).isoformat(),
            "day_end": form.get("day_end") or time(22, 0).isoformat(),
            "weekdays": [int(d) for d in form.getlist("weekdays") if d.isdigit()],
            "holidays": form.get("holidays") == "on",
        },
        "groups": _form_to_group_rules(form),
    }


def _form_to_group_rules(form: Any) -> dict[str, Any]:
    """One row per skill group; rows with neither own hours nor an overflow group are
    dropped when saving."""
    rules: dict[str, Any] = {}
    for key in form:
        found = _GROUP_ROW.match(key)
        if found is None:
            continue
        p = f"g{found.group(1)}_"
        rule: dict[str, Any] = {
            "hours": {
                "enabled": form.get(p + "hours") == "on",
                "day_start": form.get(p + "start") or time(9, 0).isoformat(),
                "day_end": form.get(p + "end") or time(18, 0).isoformat(),
                "weekdays": [int(d) for d in form.getlist(p + "days") if d.isdigit()],
                "holidays": form.get(p + "holidays") == "on",
            },
            "overflow_group_id": _int_or_none(form.get(p + "overflow")),
            "overflow_when": form.get(p + "when") or "no_agent",
        }
        after = (form.get(p + "after") or "").strip()
        if after:
            rule["overflow_after"] = after if after.isdigit() else -1
        rules[found.group(1)] = rule
    return rules


@router.post("/settings/stores/{store_id}/chat", response_class=HTMLResponse)
async def save_chat_settings(
    request: Request, store_id: int, session: DbSession, principal: StoreAdmin
) -> Response:
    store = await _store(session, store_id)
    form = await request.form()
    data = _form_to_settings(form)
    auto = form.get("mode") == "auto"
    try:
        await save_chat_routing(session, principal.actor, store.id, data, auto=auto)
    except Invalid as exc:
        # Refused before anything changed: the stored settings are shown with the reason.
        return await _page(request, session, store, error=exc, status_code=422)
    flash(request, _("Chat routing of %(name)s saved.") % {"name": store.name})
    return RedirectResponse(f"/settings/stores/{store.id}/chat", status_code=303)
