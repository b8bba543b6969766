"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kefu.accounts.models import ApiToken, Group, User
from kefu.accounts.permissions import Role
from kefu.accounts.service import token_state


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GroupRef(BaseModel):
    id: int
    code: str
    name: str


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    is_active: bool
    locale: str
    max_concurrent_chats: int
    groups: list[GroupRef]
    last_login_at: datetime | None
    locked_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            role=Role(user.role),
            is_active=user.is_active,
            locale=user.locale,
            max_concurrent_chats=user.max_concurrent_chats,
            groups=[GroupRef(id=g.id, code=g.code, name=g.name) for g in user.groups],
            last_login_at=user.last_login_at,
            locked_until=user.locked_until,
            created_at=user.created_at,
        )


class UserCreate(_In):
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: Role = Role.agent
    email: str | None = Field(default=None, max_length=254)
    group_ids: list[int] = Field(default_factory=list, max_length=100)
    max_concurrent_chats: int = Field(default=5, ge=0, le=100)


class UserUpdate(_In):
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    role: Role | None = None
    is_active: bool | None = None
    group_ids: list[int] | None = Field(default=None, max_length=100)
    max_concurrent_chats: int | None = Field(default=None, ge=0, le=100)


class PasswordReset(_In):
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(_In):
    old_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class MemberRef(BaseModel):
    id: int
    username: str
    display_name: str


class GroupOut(BaseModel):
    id: int
    code: str
    name: str
    description: str
    members: list[MemberRef]

    @classmethod
    def of(cls, group: Group) -> GroupOut:
        return cls(
            id=group.id,
            code=group.code,
            name=group.name,
            description=group.description,
            members=[
                MemberRef(id=u.id, username=u.username, display_name=u.display_name)
                for u in sorted(group.members, key=lambda u: u.id)
            ],
        )


class GroupCreate(_In):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=2000)
    member_ids: list[int] = Field(default_factory=list, max_length=1000)


class GroupUpdate(_In):
    code: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=2000)


class GroupMembers(_In):
    user_ids: list[int] = Field(max_length=1000)


class TokenOut(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    state: str = Field(description="active, expired or revoked")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            user_id=token.user_id,
            name=token.name,
            prefix=token.prefix,
            scopes=list(token.scopes),
            state=token_state(token),
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )


class TokenCreate(_In):
    name: str = Field(min_length=1, max_length=80)
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_at: datetime | None = Field(
        default=None, description="Optional expiry, ISO 8601 with a time zone"
    )


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown only in this response")
