"""Jinja2 environment with gettext, CSRF and the signed-in user available to every page.

Every page gets: `csrf_token`, `locale`, `principal` (or None), `can("perm.name")`,
`role_label(role)`, `flashes` (messages queued with `flash()` before a redirect) and
`static_version` (appended to static URLs so browsers refetch after an upgrade).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kefu.accounts.deps import csrf_token
from kefu.accounts.permissions import PERMISSION_LABELS, ROLE_LABELS, Permission, Role
from kefu.core.config import get_settings
from kefu.core.i18n import current_locale, gettext, ngettext
from kefu.web.icons import icon

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
)
_env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)

FlashKind = Literal["success", "info", "warning", "error"]
_FLASH_KEY = "_flash"


def _static_version() -> str:
    """A short digest of our own CSS and JS, so a changed file gets a new URL."""
    digest = hashlib.sha256()
    for path in sorted([*STATIC_DIR.glob("css/*.css"), *STATIC_DIR.glob("js/*.js")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M", tz: str | None = None) -> str:
    """Dates are shown in the shop's time zone, never in UTC."""
    if value is None:
        return ""
    zone = ZoneInfo(tz or get_settings().default_timezone)
    return value.astimezone(zone).strftime(fmt)


def list_time(value: datetime | None, now: datetime | None = None, tz: str | None = None) -> str:
    """A list row's time as chat apps show it: 14:05 today, 11-20 this year, else 2025-11-20."""
    if value is None:
        return ""
    zone = ZoneInfo(tz or get_settings().default_timezone)
    local = value.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year == today.year:
        return local.strftime("%m-%d")
    return local.strftime("%Y-%m-%d")


def money(value: Any) -> str:
    if value is None:
        return ""
    return f"¥{value:,.2f}"


def pick(zh: str, en: str) -> str:
    """The text for the current locale, for labels kept as (Chinese, English) pairs."""
    return zh if current_locale.get() == "zh_CN" else en


def role_label(role: str) -> str:
    try:
        return pick(*ROLE_LABELS[Role(role)])
    except ValueError:
        return role


def permission_label(permission: str) -> str:
    try:
        return pick(*PERMISSION_LABELS[Permission(permission)])
    except ValueError:
        return permission


_AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "user.create": ("创建了账号", "Account created"),
    "user.update": ("修改了账号信息", "Account changed"),
    "user.login": ("登录", "Signed in"),
    "user.logout": ("退出登录", "Signed out"),
    "user.locked": ("登录失败次数过多，账号被临时锁定", "Locked after too many failed sign-ins"),
    "user.password_change": ("修改了密码", "Password changed"),
    "user.password_reset": ("管理员重置了密码", "Password reset by an admin"),
    "user.sessions_revoked": ("退出了其他浏览器的登录", "Signed out other browsers"),
}


def audit_action(action: str) -> str:
    """A readable label for an audit action code; unknown codes are shown as they are."""
    pair = _AUDIT_ACTIONS.get(action)
    return pick(*pair) if pair else action


def user_agent_label(user_agent: str | None) -> str:
    """ "Chrome · Windows" from a user-agent string, good enough to recognise one's devices."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("MicroMessenger", "WeChat"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
                ("python-httpx", "httpx"),
            )
            if key in ua
        ),
        "",
    )
    system = next(
        (
            name
            for key, name in (
                ("Windows", "Windows"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Android", "Android"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    label = " · ".join(part for part in (browser, system) if part)
    return label or pick("未知浏览器", "Unknown browser")


templates.env.filters["audit_action"] = audit_action
templates.env.filters["user_agent_label"] = user_agent_label
templates.env.filters["local_time"] = local_time
templates.env.filters["list_time"] = list_time
templates.env.filters["money"] = money
templates.env.filters["role_label"] = role_label
templates.env.filters["permission_label"] = permission_label
templates.env.globals["pick"] = pick
templates.env.globals["icon"] = icon
templates.env.globals["role_label"] = role_label
templates.env.globals["static_version"] = _static_version()


def flash(request: Request, message: str, kind: FlashKind = "success") -> None:
    """Queue a message for the next page this browser renders (after a redirect)."""
    queued = list(request.session.get(_FLASH_KEY, []))
    queued.append([kind, message])
    request.session[_FLASH_KEY] = queued[-5:]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)

    def can(permission: str) -> bool:
        return principal is not None and permission in principal.permissions

    ctx: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "locale": current_locale.get(),
        "principal": principal,
        "can": can,
        "flashes": request.session.pop(_FLASH_KEY, []),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
