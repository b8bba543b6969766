"""Account pages: sign-in and sign-out, password change, and the settings pages for users,
groups and API tokens. They call the same service functions as the JSON API.

Forms that fail validation are rendered again with the person's input and a message in their
language (status 4xx), never a bare error: nothing typed is lost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from kefu.accounts import service
from kefu.accounts.deps import (
    CsrfFailed,
    Principal,
    Require,
    RequireSession,
    optional_principal,
    verify_csrf,
)
from kefu.accounts.models import User
from kefu.accounts.permissions import (
    PERMISSION_LABELS,
    ROLE_DESCRIPTIONS,
    ROLE_LABELS,
    Permission,
    Role,
)
from kefu.accounts.ratelimit import RateLimiter, login_limiter
from kefu.core.audit import Actor, AuditEntry, record_audit
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, TooManyRequests
from kefu.core.i18n import gettext as _
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Require()]
BrowserSession = Annotated[Principal, RequireSession()]
UsersAdmin = Annotated[Principal, RequireSession(Permission.users_manage)]
GroupsAdmin = Annotated[Principal, RequireSession(Permission.groups_manage)]

TOKEN_EXPIRY_DAYS = (7, 30, 90, 365)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> RateLimiter:
    """One limiter per app, created on first use from the app's settings."""
    limiter: RateLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = login_limiter(request.app.state.settings)
        request.app.state.login_limiter = limiter
    return limiter


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- sign in / out -------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, session: DbSession, next: str | None = None) -> Response:
    if await optional_principal(request, session) is not None:
        return _redirect(_safe_next(next))
    return render(request, "accounts/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx: dict[str, Any] = {"next": _safe_next(next), "username": username}
    try:
        await verify_csrf(request)
    except CsrfFailed as exc:
        return render(request, "accounts/login.html", {**ctx, "error": exc}, exc.status)
    limiter, ip = _limiter(request), _client_ip(request)
    if await limiter.is_limited(f"login:{ip}"):
        exc429 = TooManyRequests(
            "登录尝试过于频繁，请一分钟后再试", "Too many sign-in attempts; wait a minute"
        )
        response = render(request, "accounts/login.html", {**ctx, "error": exc429}, 429)
        response.headers["Retry-After"] = "60"
        return response
    try:
        user = await service.authenticate(
            session, username.strip(), password, request.app.state.settings
        )
    except KefuError as exc:
        await limiter.hit(f"login:{ip}")
        await session.commit()  # keep the failure count even though we answer with an error
        return render(request, "accounts/login.html", {**ctx, "error": exc}, exc.status)
    previous = request.session.get("sid")
    if isinstance(previous, str):  # signing in over another session in this browser ends it
        await service.end_session(session, previous, Actor("user", user.id, user.display_name, ip))
    key = await service.start_session(
        session, user, ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    # A fresh cookie for the new identity; the CSRF token survives so an open tab still works.
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update({"uid": user.id, "sv": user.session_version, "sid": key})
    if csrf:
        request.session["csrf"] = csrf
    return _redirect(_safe_next(next))


@router.post("/logout")
async def logout(request: Request, session: DbSession) -> Response:
    """Ends this browser's session on the server too, so a copied cookie stops working."""
    uid = request.session.get("uid")
    if uid is None:
        return _redirect("/login")
    await verify_csrf(request)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        actor = Actor("user", int(uid), "", _client_ip(request))
        await service.end_session(session, sid, actor)
    request.session.clear()
    flash(request, _("You have signed out."), "info")
    return _redirect("/login")


# --- own password and sessions -----------------------------------------------------------


async def _password_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    sessions = await service.list_sessions(
        session, principal.user.id, request.app.state.settings.session_max_age_s
    )
    current = service.sha256(str(request.session.get("sid", "")))
    return render(
        request,
        "settings/password.html",
        {
            "section": "settings",
            "error": error,
            "sessions": sessions,
            "current_hash": current,
            "min_length": service.MIN_PASSWORD_LENGTH,
        },
        status_code,
    )


@router.get("/settings/password", response_class=HTMLResponse)
async def password_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    return await _password_page(request, session, principal)


@router.post("/settings/password")
async def change_password(
    request: Request,
    session: DbSession,
    principal: BrowserSession,
    old_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    confirm_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        if new_password != confirm_password:
            raise KefuError("两次输入的新密码不一致", "The new passwords do not match", status=422)
        user = await service.change_password(
            session,
            principal.actor,
            principal.user,
            old_password,
            new_password,
            keep_session_key=request.session.get("sid"),
        )
    except KefuError as exc:
        return await _password_page(request, session, principal, exc, exc.status)
    request.session["sv"] = user.session_version
    flash(request, _("Password changed. Your other sessions have been signed out."))
    return _redirect("/settings/password")


@router.post("/settings/sessions/revoke-others")
async def revoke_other_sessions(
    request: Request, session: DbSession, principal: BrowserSession
) -> Response:
    await service.revoke_sessions(
        session,
        principal.user.id,
        except_key_hash=service.sha256(str(request.session.get("sid", ""))),
    )
    await record_audit(session, principal.actor, "user.sessions_revoked", "user", principal.user.id)
    flash(request, _("All your other sessions have been signed out."))
    return _redirect("/settings/password")


# --- users ---------------------------------------------------------------------------------


def _role_choices() -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    return [(r.value, ROLE_LABELS[r], ROLE_DESCRIPTIONS[r]) for r in Role]


@router.get("/settings/users", response_class=HTMLResponse)
async def users_page(request: Request, session: DbSession, principal: UsersAdmin) -> Response:
    users = await service.list_users(session)
    return render(
        request,
        "settings/users.html",
        {"section": "settings", "users": users, "now": utcnow()},
    )


async def _user_form(
    request: Request,
    session: DbSession,
    user: User | None,
    form: dict[str, Any],
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    history: list[AuditEntry] = []
    if user is not None:
        history = list(
            (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.entity_type == "user", AuditEntry.entity_id == str(user.id))
                    .order_by(AuditEntry.id.desc())
                    .limit(20)
                )
            ).all()
        )
    return render(
        request,
        "settings/user_form.html",
        {
            "section": "settings",
            "user": user,
            "form": form,
            "error": error,
            "groups": await service.list_groups(session),
            "roles": _role_choices(),
            "history": history,
            "min_length": service.MIN_PASSWORD_LENGTH,
        },
        status_code,
    )


@router.get("/settings/users/new", response_class=HTMLResponse)
async def new_user_page(request: Request, session: DbSession, principal: UsersAdmin) -> Response:
    form = {"role": Role.agent.value, "group_ids": [], "max_concurrent_chats": 5}
    return await _user_form(request, session, None, form)


@router.post("/settings/users")
async def create_user(
    request: Request,
    session: DbSession,
    principal: UsersAdmin,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=20)] = Role.agent.value,
    group_ids: Annotated[list[int] | None, Form()] = None,
    max_concurrent_chats: Annotated[int, Form(ge=0, le=100)] = 5,
) -> Response:
    form = {
        "username": username,
        "display_name": display_name,
        "email": email,
        "role": role,
        "group_ids": group_ids or [],
        "max_concurrent_chats": max_concurrent_chats,
    }
    try:
        user = await service.create_user(
            session,
            principal.actor,
            username=username,
            password=password,
            display_name=display_name,
            role=role,
            email=email,
            group_ids=group_ids or [],
            max_concurrent_chats=max_concurrent_chats,
        )
    except KefuError as exc:
        return await _user_form(request, session, None, form, exc, exc.status)
    flash(request, _("User %(name)s created.") % {"name": user.display_name})
    return _redirect("/settings/users")


@router.get("/settings/users/{user_id}", response_class=HTMLResponse)
async def edit_user_page(
    user_id: int, request: Request, session: DbSession, principal: UsersAdmin
) -> Response:
    user = await service.get_user(session, user_id)
    form = {
        "display_name": user.display_name,
        "email": user.email or "",
        "role": user.role,
        "is_active": user.is_active,
        "group_ids": [g.id for g in user.groups],
        "max_concurrent_chats": user.max_concurrent_chats,
    }
    return await _user_form(request, session, user, form)


@router.post("/settings/users/{user_id}")
async def update_user(
    user_id: int,
    request: Request,
    session: DbSession,
    principal: UsersAdmin,
    display_name: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    role: Annotated[str, Form(max_length=20)] = Role.agent.value,
    is_active: Annotated[bool, Form()] = False,
    group_ids: Annotated[list[int] | None, Form()] = None,
    max_concurrent_chats: Annotated[int, Form(ge=0, le=100)] = 5,
) -> Response:
    # Your own account has no "active" switch on the form; leave it as it is.
    active: bool | None = None if user_id == principal.user.id else is_active
    form = {
        "display_name": display_name,
        "email": email,
        "role": role,
        "is_active": is_active if active is not None else True,
        "group_ids": group_ids or [],
        "max_concurrent_chats": max_concurrent_chats,
    }
    try:
        user = await service.update_user(
            session,
            principal.actor,
            user_id,
            display_name=display_name,
            email=email,
            role=role,
            is_active=active,
            group_ids=group_ids or [],
            max_concurrent_chats=max_concurrent_chats,
        )
    except KefuError as exc:
        current = await service.get_user(session, user_id)
        return await _user_form(request, session, current, form, exc, exc.status)
    flash(request, _("Changes to %(name)s saved.") % {"name": user.display_name})
    return _redirect(f"/settings/users/{user_id}")


@router.post("/settings/users/{user_id}/password")
async def reset_user_password(
    user_id: int,
    request: Request,
    session: DbSession,
    principal: UsersAdmin,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        user = await service.reset_password(session, principal.actor, user_id, password)
    except KefuError as exc:
        user = await service.get_user(session, user_id)
        form = {
            "display_name": user.display_name,
            "email": user.email or "",
            "role": user.role,
            "is_active": user.is_active,
            "group_ids": [g.id for g in user.groups],
            "max_concurrent_chats": user.max_concurrent_chats,
        }
        return await _user_form(request, session, user, form, exc, exc.status)
    if user.id == principal.user.id:
        request.session["sv"] = user.session_version
    flash(
        request,
        _("Password for %(name)s reset; they have been signed out everywhere.")
        % {"name": user.display_name},
    )
    return _redirect(f"/settings/users/{user_id}")


# --- groups --------------------------------------------------------------------------------


@router.get("/settings/groups", response_class=HTMLResponse)
async def groups_page(request: Request, session: DbSession, principal: GroupsAdmin) -> Response:
    groups = await service.list_groups(session)
    return render(
        request,
        "settings/groups.html",
        {"section": "settings", "groups": groups, "defaults": service.DEFAULT_GROUPS},
    )


async def _active_users(session: DbSession) -> list[User]:
    return [u for u in await service.list_users(session) if u.is_active]


async def _group_form(
    request: Request,
    session: DbSession,
    group_id: int | None,
    form: dict[str, Any],
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "settings/group_form.html",
        {
            "section": "settings",
            "group_id": group_id,
            "form": form,
            "error": error,
            "users": await _active_users(session),
        },
        status_code,
    )


@router.get("/settings/groups/new", response_class=HTMLResponse)
async def new_group_page(request: Request, session: DbSession, principal: GroupsAdmin) -> Response:
    return await _group_form(request, session, None, {"member_ids": []})


@router.post("/settings/groups")
async def create_group(
    request: Request,
    session: DbSession,
    principal: GroupsAdmin,
    code: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    member_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    form = {"code": code, "name": name, "description": description, "member_ids": member_ids or []}
    try:
        group = await service.create_group(
            session,
            principal.actor,
            code=code,
            name=name,
            description=description,
            member_ids=member_ids or [],
        )
    except KefuError as exc:
        return await _group_form(request, session, None, form, exc, exc.status)
    flash(request, _("Group %(name)s created.") % {"name": group.name})
    return _redirect("/settings/groups")


@router.post("/settings/groups/defaults")
async def create_default_groups(
    request: Request, session: DbSession, principal: GroupsAdmin
) -> Response:
    created = await service.create_default_groups(session, principal.actor)
    if created:
        flash(
            request, _("Created groups: %(names)s") % {"names": "、".join(g.name for g in created)}
        )
    return _redirect("/settings/groups")


@router.get("/settings/groups/{group_id}", response_class=HTMLResponse)
async def edit_group_page(
    group_id: int, request: Request, session: DbSession, principal: GroupsAdmin
) -> Response:
    group = await service.get_group(session, group_id)
    form = {
        "code": group.code,
        "name": group.name,
        "description": group.description,
        "member_ids": [u.id for u in group.members],
    }
    return await _group_form(request, session, group.id, form)


@router.post("/settings/groups/{group_id}")
async def update_group(
    group_id: int,
    request: Request,
    session: DbSession,
    principal: GroupsAdmin,
    code: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    member_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    form = {"code": code, "name": name, "description": description, "member_ids": member_ids or []}
    try:
        group = await service.update_group(
            session, principal.actor, group_id, code=code, name=name, description=description
        )
        await service.set_group_members(session, principal.actor, group_id, member_ids or [])
    except KefuError as exc:
        return await _group_form(request, session, group_id, form, exc, exc.status)
    flash(request, _("Group %(name)s saved.") % {"name": group.name})
    return _redirect("/settings/groups")


@router.post("/settings/groups/{group_id}/delete")
async def delete_group(
    group_id: int, request: Request, session: DbSession, principal: GroupsAdmin
) -> Response:
    group = await service.get_group(session, group_id)
    name = group.name
    await service.delete_group(session, principal.actor, group_id)
    flash(request, _("Group %(name)s deleted.") % {"name": name})
    return _redirect("/settings/groups")


# --- API tokens ----------------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    show_all: bool = False,
    created: tuple[Any, str] | None = None,
    form: dict[str, Any] | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> Response:
    show_all = show_all and principal.can(Permission.users_manage)
    tokens = await service.list_tokens(session, None if show_all else principal.user.id)
    owners: dict[int, User] = {}
    if show_all:
        owners = {u.id: u for u in await service.list_users(session)}
    grantable = [p for p in Permission if principal.can(p)]
    response = render(
        request,
        "settings/tokens.html",
        {
            "section": "settings",
            "tokens": tokens,
            "owners": owners,
            "show_all": show_all,
            "grantable": grantable,
            "labels": PERMISSION_LABELS,
            "created": created,
            "form": form or {"scopes": [], "expires_days": "90"},
            "error": error,
            "expiry_days": TOKEN_EXPIRY_DAYS,
            "state": service.token_state,
        },
        status_code,
    )
    return _no_store(response)


@router.get("/settings/tokens", response_class=HTMLResponse)
async def tokens_page(
    request: Request,
    session: DbSession,
    principal: SignedIn,
    show_all: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    return await _tokens_page(request, session, principal, show_all=show_all)


@router.post("/settings/tokens")
async def create_token(
    request: Request,
    session: DbSession,
    principal: BrowserSession,
    name: Annotated[str, Form(max_length=80)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"name": name, "scopes": scopes or [], "expires_days": expires_days}
    expires_at = None
    if expires_days.isdigit() and int(expires_days) > 0:
        expires_at = utcnow() + timedelta(days=min(int(expires_days), 3650))
    try:
        created = await service.create_token(
            session,
            principal.actor,
            principal.user,
            name=name,
            scopes=scopes or [],
            expires_at=expires_at,
        )
    except KefuError as exc:
        return await _tokens_page(
            request, session, principal, form=form, error=exc, status_code=exc.status
        )
    # Rendered, not redirected: the secret must not travel through the session cookie.
    return await _tokens_page(request, session, principal, created=created, status_code=201)


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: int, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    owner = None if principal.can(Permission.users_manage) else principal.user.id
    token = await service.revoke_token(session, principal.actor, token_id, owner_id=owner)
    flash(request, _("Token %(name)s revoked.") % {"name": token.name})
    back = "/settings/tokens?all=true" if token.user_id != principal.user.id else "/settings/tokens"
    return _redirect(back)
