"""Who is calling, and may they? Every route depends on `Require(Permission.X)`.

Browsers authenticate with a signed session cookie and must send the CSRF token with every
unsafe request (header `X-CSRF-Token` or form field `csrf_token`). API clients send
`Authorization: Bearer <token>`; a token's power is its scopes intersected with its owner's
role, so a token never outlives a demotion.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy import select

from kefu.accounts.models import ApiToken, User
from kefu.accounts.permissions import Permission, permissions_for
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
    return hashlib.sha256(secret.encode()).hexdigest()


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


async def optional_principal(request: Request, session: DbSession) -> Principal | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return await _from_token(request, session, auth[7:].strip())
    uid = request.session.get("uid")
    if uid is None:
        return None
    user = await session.get(User, int(uid))
    if user is None or not user.is_active or request.session.get("sv") != user.session_version:
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
            raise Forbidden(
                f"您没有执行此操作的权限（需要 {', '.join(missing)}）",
                f"Permission required: {', '.join(missing)}",
            )
        return principal

    return Depends(check)
