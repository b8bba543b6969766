"""Account rules: users, sign-in with lock-out, login sessions, passwords, groups, API tokens.

Every write is audited in the same transaction. Passwords and token secrets never reach the
audit log or the database in clear: passwords are argon2 hashes, token secrets and session
keys SHA-256 digests. Two invariants are enforced here rather than in routes:

- there is always at least one active admin (nobody can demote or disable the last one);
- an API token's scopes never exceed what its owner's role grants when it is created (and
  `deps` intersects them with the role again on every use, so a later demotion also bites).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kefu.accounts.models import ApiToken, Group, LoginSession, User
from kefu.accounts.permissions import Permission, Role, permissions_for
from kefu.core.audit import Actor, record_audit
from kefu.core.config import Settings, get_settings
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Forbidden, Invalid, KefuError, NotFound

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8
# argon2 cost does not depend on length, but a megabyte "password" is still abuse.
MAX_PASSWORD_LENGTH = 256
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")
GROUP_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
TOKEN_PREFIX = "kefu"

# What a new installation usually wants; offered on the empty groups page (seeds S004 §3).
DEFAULT_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("presales", "售前", "商品咨询、促销活动、下单前的问题"),
    ("aftersales", "售后", "退换货、退款、物流异常、维修"),
    ("vip", "VIP", "高价值客户的专属接待"),
    ("complaints", "投诉专家组", "投诉、差评挽回与升级处理"),
)


class LoginFailed(KefuError):
    status, code = 401, "login_failed"
    zh, en = "用户名或密码错误", "Wrong username or password"


class AccountLocked(KefuError):
    status, code = 423, "account_locked"
    zh, en = "登录失败次数过多，账号已临时锁定，请稍后再试", "Too many failed sign-ins; try later"


class LastAdmin(Conflict):
    code = "last_admin"
    zh = "至少需要保留一名启用状态的管理员"
    en = "At least one active admin must remain"


# --- passwords -------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"密码至少 {MIN_PASSWORD_LENGTH} 位", f"At least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(
            f"密码最多 {MAX_PASSWORD_LENGTH} 位", f"At most {MAX_PASSWORD_LENGTH} characters"
        )


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- users ---------------------------------------------------------------------------------


def _user_snapshot(user: User, group_ids: Iterable[int] | None = None) -> dict[str, object]:
    snap: dict[str, object] = {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "max_concurrent_chats": user.max_concurrent_chats,
    }
    if group_ids is not None:
        snap["group_ids"] = sorted(group_ids)
    return snap


def _parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(f"未知角色 {role}", f"Unknown role {role}") from None


async def _groups_by_id(session: AsyncSession, group_ids: Iterable[int]) -> list[Group]:
    wanted = set(group_ids)
    if not wanted:
        return []
    groups = list((await session.scalars(select(Group).where(Group.id.in_(wanted)))).all())
    missing = wanted - {g.id for g in groups}
    if missing:
        ids = ", ".join(str(i) for i in sorted(missing))
        raise Invalid(f"分组不存在：{ids}", f"No such group: {ids}")
    return groups


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role | str = Role.agent,
    email: str | None = None,
    group_ids: Sequence[int] = (),
    max_concurrent_chats: int = 5,
) -> User:
    username = username.strip()
    display_name = display_name.strip()
    if not USERNAME_RE.match(username):
        raise Invalid(
            "用户名需为 2–64 位字母、数字或 _ . @ -，以字母或数字开头",
            "Username: 2–64 letters, digits or _ . @ -, starting with a letter or digit",
        )
    if not display_name:
        raise Invalid("请填写显示名称", "Display name is required")
    check_password_strength(password)
    role = _parse_role(role)
    exists = await session.scalar(
        select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
    )
    if exists:
        raise Conflict(f"用户名 {username} 已存在", f"Username {username} is taken")
    groups = await _groups_by_id(session, group_ids)
    user = User(
        username=username,
        display_name=display_name,
        email=(email or "").strip() or None,
        password_hash=hash_password(password),
        role=role.value,
        max_concurrent_chats=max_concurrent_chats,
        groups=groups,
    )
    session.add(user)
    await session.flush()
    await record_audit(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after=_user_snapshot(user, [g.id for g in groups]),
    )
    return user


async def list_users(session: AsyncSession) -> list[User]:
    stmt = select(User).options(selectinload(User.groups)).order_by(User.is_active.desc(), User.id)
    return list((await session.scalars(stmt)).all())


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(
        select(User).where(User.id == user_id).options(selectinload(User.groups))
    )
    if user is None:
        raise NotFound("用户不存在", "No such user")
    return user


async def _ensure_another_active_admin(session: AsyncSession, user_id: int) -> None:
    """Refuse if `user_id` is the only active admin.

    The admin rows are locked (PostgreSQL) so two admins demoting each other at the same
    moment cannot both succeed; SQLite serialises writers anyway.
    """
    others = (
        await session.scalars(
            select(User.id)
            .where(User.role == Role.admin.value, User.is_active.is_(True), User.id != user_id)
            .with_for_update()
        )
    ).all()
    if not others:
        raise LastAdmin()


async def update_user(
    session: AsyncSession,
    actor: Actor,
    user_id: int,
    *,
    display_name: str | None = None,
    email: str | None = None,
    role: Role | str | None = None,
    is_active: bool | None = None,
    group_ids: Sequence[int] | None = None,
    max_concurrent_chats: int | None = None,
) -> User:
    user = await get_user(session, user_id)
    before = _user_snapshot(user, [g.id for g in user.groups])
    new_role = _parse_role(role) if role is not None else Role(user.role)
    new_active = user.is_active if is_active is None else is_active
    # Check everything first; only then change the row, so a refusal leaves nothing half-done.
    if actor.kind in ("user", "api_token") and actor.id == user.id and not new_active:
        raise Conflict("不能停用自己的账号", "You cannot disable your own account")
    was_admin = user.role == Role.admin.value and user.is_active
    if was_admin and (new_role != Role.admin or not new_active):
        await _ensure_another_active_admin(session, user.id)
    if display_name is not None and not display_name.strip():
        raise Invalid("请填写显示名称", "Display name is required")
    if max_concurrent_chats is not None and not 0 <= max_concurrent_chats <= 100:
        raise Invalid("同时接待上限应在 0–100 之间", "Concurrent chats must be 0–100")
    groups = await _groups_by_id(session, group_ids) if group_ids is not None else None
    if display_name is not None:
        user.display_name = display_name.strip()
    if email is not None:
        user.email = email.strip() or None
    if max_concurrent_chats is not None:
        user.max_concurrent_chats = max_concurrent_chats
    if groups is not None:
        user.groups = groups
    user.role = new_role.value
    if user.is_active and not new_active:
        # A disabled user's browsers are signed out at once, not when their cookie expires.
        user.session_version += 1
        await revoke_sessions(session, user.id)
    user.is_active = new_active
    await session.flush()
    await record_audit(
        session,
        actor,
        "user.update",
        "user",
        user.id,
        before=before,
        after=_user_snapshot(user, [g.id for g in user.groups]),
    )
    return user


async def reset_password(
    session: AsyncSession, actor: Actor, user_id: int, new_password: str
) -> User:
    """An admin sets a new password: the user is signed out everywhere and unlocked."""
    check_password_strength(new_password)
    user = await get_user(session, user_id)
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    await revoke_sessions(session, user.id)
    await session.flush()
    await record_audit(
        session,
        actor,
        "user.password_reset",
        "user",
        user.id,
        after={"session_version": user.session_version},
    )
    return user


async def change_password(
    session: AsyncSession,
    actor: Actor,
    user: User,
    old_password: str,
    new_password: str,
    *,
    keep_session_key: str | None = None,
) -> User:
    """The user's own change: needs the old password; every other session is signed out."""
    if not verify_password(user.password_hash, old_password):
        raise Invalid("当前密码不正确", "The current password is wrong", code="wrong_password")
    check_password_strength(new_password)
    if old_password == new_password:
        raise Invalid("新密码不能与当前密码相同", "The new password must differ from the old one")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    await revoke_sessions(
        session, user.id, except_key_hash=sha256(keep_session_key) if keep_session_key else None
    )
    await session.flush()
    await record_audit(
        session,
        actor,
        "user.password_change",
        "user",
        user.id,
        after={"session_version": user.session_version},
    )
    return user


# --- signing in --------------------------------------------------------------------------


async def authenticate(
    session: AsyncSession, username: str, password: str, settings: Settings | None = None
) -> User:
    """Check a password; count failures and lock the account after too many in a row."""
    settings = settings or get_settings()
    user = await session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)  # same cost whether or not the user exists
        raise LoginFailed()
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked()
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            await record_audit(
                session,
                Actor("system"),
                "user.locked",
                "user",
                user.id,
                after={"locked_until": user.locked_until.isoformat()},
            )
            raise AccountLocked()
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


async def start_session(
    session: AsyncSession, user: User, *, ip: str | None, user_agent: str
) -> str:
    """A new login session; returns the key the signed cookie carries (never stored)."""
    key = secrets.token_urlsafe(32)
    session.add(
        LoginSession(user_id=user.id, key_hash=sha256(key), ip=ip, user_agent=user_agent[:300])
    )
    await session.flush()
    await record_audit(
        session, Actor("user", user.id, user.display_name, ip), "user.login", "user", user.id
    )
    return key


async def find_session(
    session: AsyncSession, key: str, user_id: int, max_age_s: int
) -> LoginSession | None:
    row = await session.scalar(
        select(LoginSession).where(
            LoginSession.key_hash == sha256(key),
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
    )
    now = utcnow()
    if row is None or (now - row.created_at).total_seconds() > max_age_s:
        return None
    if (now - row.last_seen_at).total_seconds() > 60:  # one write a minute, not one a request
        row.last_seen_at = now
    return row


async def end_session(session: AsyncSession, key: str, actor: Actor) -> None:
    row = await session.scalar(select(LoginSession).where(LoginSession.key_hash == sha256(key)))
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    await record_audit(session, actor, "user.logout", "user", row.user_id)


async def revoke_sessions(
    session: AsyncSession, user_id: int, *, except_key_hash: str | None = None
) -> None:
    stmt = (
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if except_key_hash:
        stmt = stmt.where(LoginSession.key_hash != except_key_hash)
    await session.execute(stmt)


async def list_sessions(session: AsyncSession, user_id: int, max_age_s: int) -> list[LoginSession]:
    since = utcnow() - timedelta(seconds=max_age_s)
    stmt = (
        select(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.created_at > since,
        )
        .order_by(LoginSession.last_seen_at.desc())
    )
    return list((await session.scalars(stmt)).all())


# --- groups --------------------------------------------------------------------------------


def _group_snapshot(group: Group, member_ids: Iterable[int] | None = None) -> dict[str, object]:
    snap: dict[str, object] = {
        "code": group.code,
        "name": group.name,
        "description": group.description,
    }
    if member_ids is not None:
        snap["member_ids"] = sorted(member_ids)
    return snap


async def list_groups(session: AsyncSession) -> list[Group]:
    stmt = select(Group).options(selectinload(Group.members)).order_by(Group.id)
    return list((await session.scalars(stmt)).all())


async def get_group(session: AsyncSession, group_id: int) -> Group:
    group = await session.scalar(
        select(Group).where(Group.id == group_id).options(selectinload(Group.members))
    )
    if group is None:
        raise NotFound("分组不存在", "No such group")
    return group


async def _check_group_unique(
    session: AsyncSession, code: str, name: str, exclude_id: int | None = None
) -> None:
    stmt = select(Group).where((Group.code == code) | (func.lower(Group.name) == name.lower()))
    if exclude_id is not None:
        stmt = stmt.where(Group.id != exclude_id)
    clash = await session.scalar(stmt.limit(1))
    if clash is not None:
        if clash.code == code:
            raise Conflict(f"分组代码 {code} 已被使用", f"Group code {code} is taken")
        raise Conflict(f"分组名称 {name} 已存在", f"A group named {name} exists")


def _clean_group_fields(code: str, name: str) -> tuple[str, str]:
    code, name = code.strip().lower(), name.strip()
    if not GROUP_CODE_RE.match(code):
        raise Invalid(
            "分组代码需为小写字母、数字、_ 或 -，最多 40 位",
            "Group code: lowercase letters, digits, _ or -, at most 40",
        )
    if not name or len(name) > 64:
        raise Invalid("分组名称为 1–64 个字符", "Group name: 1–64 characters")
    return code, name


async def create_group(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    name: str,
    description: str = "",
    member_ids: Sequence[int] = (),
) -> Group:
    code, name = _clean_group_fields(code, name)
    await _check_group_unique(session, code, name)
    members = await _users_by_id(session, member_ids)
    group = Group(code=code, name=name, description=description.strip(), members=members)
    session.add(group)
    await session.flush()
    await record_audit(
        session,
        actor,
        "group.create",
        "group",
        group.id,
        after=_group_snapshot(group, [u.id for u in members]),
    )
    return group


async def update_group(
    session: AsyncSession,
    actor: Actor,
    group_id: int,
    *,
    code: str | None = None,
    name: str | None = None,
    description: str | None = None,
    member_ids: Sequence[int] | None = None,
) -> Group:
    group = await get_group(session, group_id)
    old_members = [u.id for u in group.members]
    before = _group_snapshot(group, old_members if member_ids is not None else None)
    new_code, new_name = _clean_group_fields(
        group.code if code is None else code, group.name if name is None else name
    )
    await _check_group_unique(session, new_code, new_name, exclude_id=group.id)
    members = await _users_by_id(session, member_ids) if member_ids is not None else None
    # Everything is checked; only now change the row, so a refusal leaves nothing half-done.
    group.code, group.name = new_code, new_name
    if description is not None:
        group.description = description.strip()
    if members is not None:
        group.members = members
    await session.flush()
    await record_audit(
        session,
        actor,
        "group.update",
        "group",
        group.id,
        before=before,
        after=_group_snapshot(group, [u.id for u in members] if members is not None else None),
    )
    return group


async def delete_group(session: AsyncSession, actor: Actor, group_id: int) -> None:
    """Members leave the group; conversations routed to it keep their history (SET NULL)."""
    group = await get_group(session, group_id)
    before = _group_snapshot(group, [u.id for u in group.members])
    await session.delete(group)
    await session.flush()
    await record_audit(session, actor, "group.delete", "group", group_id, before=before)


async def _users_by_id(session: AsyncSession, user_ids: Iterable[int]) -> list[User]:
    wanted = set(user_ids)
    if not wanted:
        return []
    users = list((await session.scalars(select(User).where(User.id.in_(wanted)))).all())
    missing = wanted - {u.id for u in users}
    if missing:
        ids = ", ".join(str(i) for i in sorted(missing))
        raise Invalid(f"用户不存在：{ids}", f"No such user: {ids}")
    return users


async def set_group_members(
    session: AsyncSession, actor: Actor, group_id: int, user_ids: Sequence[int]
) -> Group:
    group = await get_group(session, group_id)
    before = _group_snapshot(group, [u.id for u in group.members])
    group.members = await _users_by_id(session, user_ids)
    await session.flush()
    await record_audit(
        session,
        actor,
        "group.members",
        "group",
        group.id,
        before=before,
        after=_group_snapshot(group, [u.id for u in group.members]),
    )
    return group


async def create_default_groups(session: AsyncSession, actor: Actor) -> list[Group]:
    """The four groups the seed documents name, skipping any whose code already exists."""
    existing = set((await session.scalars(select(Group.code))).all())
    created = []
    for code, name, description in DEFAULT_GROUPS:
        if code not in existing:
            created.append(
                await create_group(session, actor, code=code, name=name, description=description)
            )
    return created


# --- API tokens ----------------------------------------------------------------------------


def parse_scopes(scopes: Iterable[str]) -> list[Permission]:
    parsed, unknown = [], []
    for scope in scopes:
        if scope in Permission._value2member_map_:
            parsed.append(Permission(scope))
        else:
            unknown.append(scope)
    if unknown:
        names = ", ".join(unknown)
        raise Invalid(f"未知的权限范围：{names}", f"Unknown scopes: {names}")
    return sorted(set(parsed))


async def create_token(
    session: AsyncSession,
    actor: Actor,
    owner: User,
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token and its secret `kefu_<prefix>_<secret>`, which is never shown again."""
    name = name.strip()
    if not name or len(name) > 80:
        raise Invalid("令牌名称为 1–80 个字符", "Token name: 1–80 characters")
    wanted = parse_scopes(scopes)
    if not wanted:
        raise Invalid("请至少选择一项权限范围", "Choose at least one scope")
    beyond = [p.value for p in wanted if p not in permissions_for(owner.role)]
    if beyond:
        names = ", ".join(beyond)
        raise Forbidden(f"令牌权限不能超出您的角色：{names}", f"Scopes beyond your role: {names}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Invalid("过期时间需要带时区", "The expiry needs a time zone")
        if expires_at <= utcnow():
            raise Invalid("过期时间必须在将来", "The expiry must be in the future")
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user_id=owner.id,
        name=name,
        prefix=prefix,
        token_hash=sha256(secret),
        scopes=[p.value for p in wanted],
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    await record_audit(
        session,
        actor,
        "api_token.create",
        "api_token",
        token.id,
        after={
            "user_id": owner.id,
            "name": name,
            "prefix": prefix,
            "scopes": token.scopes,
            "expires_at": expires_at,
        },
    )
    return token, secret


async def list_tokens(session: AsyncSession, user_id: int | None) -> list[ApiToken]:
    """One user's tokens, or everyone's when `user_id` is None (for admins)."""
    stmt = select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list((await session.scalars(stmt)).all())


async def revoke_token(
    session: AsyncSession, actor: Actor, token_id: int, *, owner_id: int | None
) -> ApiToken:
    """Revoke a token; with `owner_id` set only that user's token may be revoked."""
    token = await session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFound("令牌不存在", "No such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
        await record_audit(
            session,
            actor,
            "api_token.revoke",
            "api_token",
            token.id,
            after={"user_id": token.user_id, "prefix": token.prefix},
        )
    return token


def token_state(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= utcnow():
        return "expired"
    return "active"


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))
