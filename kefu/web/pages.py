"""The shell: the overview page, the settings index, and the sections that later features
fill in (tickets, knowledge, reports). Their empty states say what is coming, so a shop trying
Kefu sees the plan instead of a blank page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal, Require
from kefu.accounts.models import Group, User
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.core.i18n import current_locale
from kefu.core.i18n import gettext as _
from kefu.store.models import Customer, Order, Store
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Require()]


async def _count(session: AsyncSession, model: type[object]) -> int:
    # Read-only counts for the overview until the reporting feature owns a dashboard.
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _greeting(now: datetime) -> str:
    hour = now.hour
    if hour < 6:
        return _("Working late")
    if hour < 12:
        return _("Good morning")
    if hour < 18:
        return _("Good afternoon")
    return _("Good evening")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: DbSession, principal: SignedIn) -> HTMLResponse:
    settings = request.app.state.settings
    now = datetime.now(ZoneInfo(settings.default_timezone))
    counts = {
        "stores": await _count(session, Store),
        "customers": await _count(session, Customer),
        "orders": await _count(session, Order),
        "users": int(
            await session.scalar(
                select(func.count()).select_from(User).where(User.is_active.is_(True))
            )
            or 0
        ),
        "groups": await _count(session, Group),
    }
    return render(
        request,
        "web/home.html",
        {
            "section": "home",
            "greeting": _greeting(now),
            "counts": counts,
            "today": format_date(now.date(), format="full", locale=current_locale.get()),
        },
    )


@router.get("/reports", response_class=HTMLResponse)
async def reports(
    request: Request, principal: Annotated[Principal, Require(Permission.reports_read)]
) -> HTMLResponse:
    return render(request, "web/reports.html", {"section": "reports"})


@router.get("/settings", response_class=HTMLResponse)
async def settings_index(request: Request, principal: SignedIn) -> HTMLResponse:
    return render(request, "settings/index.html", {"section": "settings"})
