"""Jinja2 environment with gettext, CSRF and the signed-in user available to every page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kefu.accounts.deps import csrf_token
from kefu.core.config import get_settings
from kefu.core.i18n import current_locale, gettext, ngettext

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
)
_env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M", tz: str | None = None) -> str:
    """Dates are shown in the shop's time zone, never in UTC."""
    if value is None:
        return ""
    zone = ZoneInfo(tz or get_settings().default_timezone)
    return value.astimezone(zone).strftime(fmt)


def money(value: Any) -> str:
    if value is None:
        return ""
    return f"¥{value:,.2f}"


templates.env.filters["local_time"] = local_time
templates.env.filters["money"] = money


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "locale": current_locale.get(),
        "principal": getattr(request.state, "principal", None),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
