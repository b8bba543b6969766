"""The bot report page `/bot/reports` and its CSV export `/bot/reports/daily.csv`
(permission reports.read). The figures come from `kefu.bot.reports`; see its docstring for
what each one counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.bot import reports
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, NotFound
from kefu.store.models import Store
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Require(Permission.reports_read)]
DayParam = Annotated[str | None, Query(max_length=20)]


async def _scope(
    request: Request, session: AsyncSession, store: int | None
) -> tuple[Store | None, str]:
    """The store asked for (None: all) and the time zone its days are counted in."""
    if store is None:
        return None, request.app.state.settings.default_timezone
    found = await session.get(Store, store)
    if found is None:
        raise NotFound("店铺不存在", "Store not found")
    return found, found.timezone or request.app.state.settings.default_timezone


@router.get("/bot/reports", response_class=HTMLResponse)
async def bot_reports(
    request: Request,
    session: DbSession,
    principal: Reader,
    start: DayParam = None,
    end: DayParam = None,
    store: int | None = None,
) -> HTMLResponse:
    scope, tz = await _scope(request, session, store)
    error: Invalid | None = None
    try:
        rng = reports.report_range(start, end, tz)
    except Invalid as exc:
        # Show the default range with the problem above it rather than an error page.
        error, rng = exc, reports.report_range(None, None, tz)
    report = await reports.bot_report(session, rng, scope.id if scope else None)
    return render(
        request,
        "bot/reports.html",
        {
            "section": "reports",
            "report": report,
            "store": scope,
            "stores": list(await session.scalars(select(Store).order_by(Store.id))),
            "tz": tz,
            "chart": reports.chart_data(report),
            "outcome_label": reports.outcome_label,
            "reason_label": reports.reason_label,
            "error": error,
            "max_days": reports.MAX_DAYS,
        },
        status_code=422 if error else 200,
    )


@router.get("/bot/reports/daily.csv")
async def bot_reports_csv(
    request: Request,
    session: DbSession,
    principal: Reader,
    start: DayParam = None,
    end: DayParam = None,
    store: int | None = None,
) -> Response:
    scope, tz = await _scope(request, session, store)
    rng = reports.report_range(start, end, tz)
    report = await reports.bot_report(session, rng, scope.id if scope else None)
    name = f"bot-daily-{rng.start.isoformat()}-{rng.end.isoformat()}.csv"
    return Response(
        reports.daily_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )
