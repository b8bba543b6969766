"""Account rules: creating users, signing in with lock-out, passwords, API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.accounts.permissions import Role
from kefu.core.audit import Actor, record_audit
from kefu.core.config import get_settings
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Invalid, KefuError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


class LoginFailed(KefuError):
    status, code = 401, "login_failed"
    zh, en = "用户名或密码错误", "Wrong username or password"


class AccountLocked(KefuError):
    status, code = 423, "account_locked"
    zh, en = "登录失败次数过多，账号已临时锁定，请稍后再试", "Too many failed sign-ins; try later"


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


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role | str = Role.agent,
    email: str | None = None,
) -> User:
    check_password_strength(password)
    role = Role(role)
    exists = await session.scalar(
        select(func.count()).select_from(User).where(User.username == username)
    )
    if exists:
        raise Conflict(f"用户名 {username} 已存在", f"Username {username} is taken")
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=hash_password(password),
        role=role.value,
    )
    session.add(user)
    await session.flush()
    await record_audit(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after={"username": username, "role": role.value, "display_name": display_name},
    )
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User:
    """Check a password; count failures and lock the account after too many in a row."""
    settings = get_settings()
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
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))
