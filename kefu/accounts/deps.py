"""Who is calling, and may they? Every route depends on `Require(Permission.X)`.

Browsers authenticate with a signed session cookie and must send the CSRF token with every
unsafe request (header `X-CSRF-Token` or form field `csrf_token`). API clients send
`Authorization: Bearer <token>`; a token's power is its scopes intersected with its owner's
role, so a token never outlives a demotion.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import ApiToken, User
from kefu.accounts.permissions import PERMISSION_LABELS, Permission, permissions_for
from kefu.accounts.service import find_session, sha256
from kefu.core.audit import Actor
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import Forbidden, KefuError, Unauthorized

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(KefuError):
    status, code = 403, "csrf_failed"
    zh, en = "页面已过期，请刷新后重试", "The page has expired; reload and try again"


@dataclass(frozen=True)
class Principal:
    user: User
    permissions: frozenset[Permission]
    via: Literal["session", "token"]
    token_id: int | None = None
    ip: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        kind: Literal["user", "api_token"] = "user" if self.via == "session" else "api_token"
        return Actor(kind, self.user.id, self.user.display_name, self.ip)


def hash_token(secret: str) -> str:
    return sha256(secret)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def verify_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent: Any = request.headers.get("x-csrf-token")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            sent = form.get("csrf_token")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _from_token(request: Request, session: DbSession, secret: str) -> Principal:
    token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    now = utcnow()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        raise Unauthorized("API 令牌无效、已过期或已撤销", "Invalid, expired or revoked API token")
    user = await session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("API 令牌的所有者已停用", "The token's owner is disabled")
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    scopes = {Permission(s) for s in token.scopes if s in Permission._value2member_map_}
    perms = frozenset(scopes) & permissions_for(user.role)
    return Principal(user, perms, "token", token.id, _client_ip(request))


async def user_from_cookie_session(
    cookie: Mapping[str, Any], session: AsyncSession, max_age_s: int
) -> User | None:
    """The signed-in user of a browser session (`request.session` or `websocket.session`),
    or None when it was signed out, the password changed, the user was disabled, or the
    cookie is a replay of a session that ended. WebSocket endpoints use this too."""
    uid, sid = cookie.get("uid"), cookie.get("sid")
    if uid is None or not isinstance(sid, str):
        return None
    user = await session.get(User, int(uid))
    if user is None or not user.is_active or cookie.get("sv") != user.session_version:
        return None
    if await find_session(session, sid, user.id, max_age_s) is None:
        return None
    return user


async def optional_principal(request: Request, session: DbSession) -> Principal | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = await _from_token(request, session, auth[7:].strip())
        request.state.principal = principal
        return principal
    if request.session.get("uid") is None:
        return None
    settings = request.app.state.settings
    user = await user_from_cookie_session(request.session, session, settings.session_max_age_s)
    if user is None:
        request.session.clear()
        return None
    await verify_csrf(request)
    principal = Principal(user, permissions_for(user.role), "session", None, _client_ip(request))
    request.state.principal = principal
    return principal


async def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def Require(*needed: Permission) -> Any:
    """Dependency: the caller must hold every permission in `needed`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        missing = [p for p in needed if not principal.can(p)]
        if missing:
            zh = "、".join(f"「{PERMISSION_LABELS[p][0]}」（{p.value}）" for p in missing)
            en = ", ".join(f"{PERMISSION_LABELS[p][1]} ({p.value})" for p in missing)
            raise Forbidden(f"您没有执行此操作的权限，需要{zh}权限", f"Permission required: {en}")
        return principal

    return Depends(check)


def RequireSession(*needed: Permission) -> Any:
    """Like `Require`, but refuses API tokens: for actions that mint or manage credentials,
    so a leaked token cannot be used to create more tokens."""

    # A default, not Annotated: the annotation is a string here and could not see `needed`.
    async def check(principal: Principal = Require(*needed)) -> Principal:
        if principal.via != "session":
            raise Forbidden(
                "此操作需要在浏览器中登录后进行，API 令牌不可用",
                "This action needs a signed-in browser session, not an API token",
            )
        return principal

    return Depends(check)
