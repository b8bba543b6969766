"""Accounts JSON API: the caller, users, groups and API tokens.

Actions that create or change credentials (API tokens, passwords) need a browser session:
an API token cannot mint another token or change a password, so a leaked token stays as
narrow as it was issued.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kefu.accounts import service
from kefu.accounts.deps import Principal, Require, RequireSession
from kefu.accounts.permissions import Permission
from kefu.accounts.schemas import (
    GroupCreate,
    GroupMembers,
    GroupOut,
    GroupUpdate,
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from kefu.core.deps import DbSession
from kefu.core.errors import Forbidden

router = APIRouter(tags=["accounts"])

SignedIn = Annotated[Principal, Require()]
UsersAdmin = Annotated[Principal, Require(Permission.users_manage)]
GroupsAdmin = Annotated[Principal, Require(Permission.groups_manage)]


@router.get("/me")
async def me(principal: SignedIn) -> dict[str, object]:
    return {
        "id": principal.user.id,
        "username": principal.user.username,
        "display_name": principal.user.display_name,
        "role": principal.user.role,
        "permissions": sorted(principal.permissions),
        "via": principal.via,
    }


@router.post("/me/password", status_code=204)
async def change_my_password(
    body: PasswordChange,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, RequireSession()],
) -> Response:
    user = await service.change_password(
        session,
        principal.actor,
        principal.user,
        body.old_password,
        body.new_password,
        keep_session_key=request.session.get("sid"),
    )
    request.session["sv"] = user.session_version
    return Response(status_code=204)


# --- users ---------------------------------------------------------------------------------


@router.get("/users")
async def list_users(session: DbSession, principal: UsersAdmin) -> list[UserOut]:
    return [UserOut.of(u) for u in await service.list_users(session)]


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, session: DbSession, principal: UsersAdmin) -> UserOut:
    user = await service.create_user(
        session,
        principal.actor,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        role=body.role,
        email=body.email,
        group_ids=body.group_ids,
        max_concurrent_chats=body.max_concurrent_chats,
    )
    return UserOut.of(await service.get_user(session, user.id))


@router.get("/users/{user_id}")
async def get_user(user_id: int, session: DbSession, principal: UsersAdmin) -> UserOut:
    return UserOut.of(await service.get_user(session, user_id))


@router.patch("/users/{user_id}")
async def update_user(
    user_id: int, body: UserUpdate, session: DbSession, principal: UsersAdmin
) -> UserOut:
    user = await service.update_user(
        session, principal.actor, user_id, **body.model_dump(exclude_unset=True)
    )
    return UserOut.of(user)


@router.post("/users/{user_id}/password", status_code=204)
async def reset_password(
    user_id: int,
    body: PasswordReset,
    session: DbSession,
    principal: Annotated[Principal, RequireSession(Permission.users_manage)],
) -> Response:
    await service.reset_password(session, principal.actor, user_id, body.password)
    return Response(status_code=204)


# --- groups --------------------------------------------------------------------------------


@router.get("/groups")
async def list_groups(session: DbSession, principal: SignedIn) -> list[GroupOut]:
    """Every signed-in user may read groups: agents transfer conversations to them."""
    return [GroupOut.of(g) for g in await service.list_groups(session)]


@router.post("/groups", status_code=201)
async def create_group(body: GroupCreate, session: DbSession, principal: GroupsAdmin) -> GroupOut:
    group = await service.create_group(
        session,
        principal.actor,
        code=body.code,
        name=body.name,
        description=body.description,
        member_ids=body.member_ids,
    )
    return GroupOut.of(await service.get_group(session, group.id))


@router.get("/groups/{group_id}")
async def get_group(group_id: int, session: DbSession, principal: SignedIn) -> GroupOut:
    return GroupOut.of(await service.get_group(session, group_id))


@router.patch("/groups/{group_id}")
async def update_group(
    group_id: int, body: GroupUpdate, session: DbSession, principal: GroupsAdmin
) -> GroupOut:
    group = await service.update_group(
        session, principal.actor, group_id, **body.model_dump(exclude_unset=True)
    )
    return GroupOut.of(group)


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(group_id: int, session: DbSession, principal: GroupsAdmin) -> Response:
    await service.delete_group(session, principal.actor, group_id)
    return Response(status_code=204)


@router.put("/groups/{group_id}/members")
async def set_group_members(
    group_id: int, body: GroupMembers, session: DbSession, principal: GroupsAdmin
) -> GroupOut:
    group = await service.set_group_members(session, principal.actor, group_id, body.user_ids)
    return GroupOut.of(group)


# --- API tokens ----------------------------------------------------------------------------


@router.get("/tokens")
async def list_tokens(
    session: DbSession,
    principal: SignedIn,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> list[TokenOut]:
    """The caller's own tokens; `?all=true` lists everyone's (needs users.manage)."""
    if all_users and not principal.can(Permission.users_manage):
        raise Forbidden("只有管理员可以查看所有人的令牌", "Only admins can list everyone's tokens")
    owner = None if all_users else principal.user.id
    return [TokenOut.of(t) for t in await service.list_tokens(session, owner)]


@router.post("/tokens", status_code=201)
async def create_token(
    body: TokenCreate,
    session: DbSession,
    principal: Annotated[Principal, RequireSession()],
) -> TokenCreated:
    token, secret = await service.create_token(
        session,
        principal.actor,
        principal.user,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    return TokenCreated(**TokenOut.of(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: int, session: DbSession, principal: SignedIn) -> Response:
    """Owners revoke their own tokens; admins (users.manage) may revoke anyone's."""
    owner = None if principal.can(Permission.users_manage) else principal.user.id
    await service.revoke_token(session, principal.actor, token_id, owner_id=owner)
    return Response(status_code=204)
