"""Shop-wide ticket settings and the defaults written on first use.

Every threshold the issue names is here with its documented default, editable under
/settings/tickets: business hours, the SLA warning share, compensation approval limits by
role, the repeat-complaint window, the high-risk words and the follow-up delay. The first
call also seeds the built-in ticket types, default SLA policies and the 2026 holiday
calendar; the seeding is guarded by inserting the settings row with ON CONFLICT DO NOTHING,
so two first requests at once seed exactly once.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.tickets.calendar import default_calendar_days
from kefu.tickets.enums import DEFAULT_TYPES
from kefu.tickets.models import CalendarDay, SlaPolicy, TicketSettings, TicketType

DEFAULTS: dict[str, Any] = {
    "business_hours": {
        "timezone": "Asia/Shanghai",
        "day_start": "09:00",
        "day_end": "18:00",
        "weekdays": [0, 1, 2, 3, 4],
    },
    "warn_ratio": 0.8,
    # Highest compensation (in yuan) a role may approve; None means no limit.
    "approval_limits": {"agent": 50, "supervisor": 500, "admin": None},
    "repeat_window_days": 30,
    "high_risk_words": ["12315", "工商", "律师", "曝光"],
    "follow_up_delay_hours": 24,
    "number_prefix": "GD",
}

# (name, priority, tier, type, first response, next response, resolution, raise priority)
DEFAULT_POLICIES: list[tuple[str, str | None, str | None, str | None, int, int, int, bool]] = [
    ("紧急工单", "urgent", None, None, 30, 60, 240, False),
    ("高优先级", "high", None, None, 60, 120, 480, True),
    ("普通工单", "normal", None, None, 240, 480, 1440, True),
    ("低优先级", "low", None, None, 480, 960, 2880, True),
    ("VIP 客户", None, "vip", None, 60, 120, 720, True),
    ("投诉工单", None, None, "complaint", 60, 120, 1440, True),
]

_CACHE_KEY = "kefu_ticket_settings"


def _merge(stored: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


async def ensure_defaults(session: AsyncSession) -> None:
    """Seed settings, types, SLA policies and the 2026 calendar once per database."""
    if session.sync_session.info.get("kefu_ticket_seeded"):
        return
    exists = await session.scalar(select(TicketSettings.id).where(TicketSettings.id == 1))
    if exists is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await session.execute(
            insert(TicketSettings)
            .values(id=1, data={})
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(TicketSettings.id)
        )
        if result.first() is not None:
            for sort, (code, zh, en) in enumerate(DEFAULT_TYPES):
                session.add(TicketType(code=code, name_zh=zh, name_en=en, sort=sort))
            for name, prio, tier, type_code, fr, nr, res, bump in DEFAULT_POLICIES:
                session.add(
                    SlaPolicy(
                        name=name,
                        priority=prio,
                        customer_tier=tier,
                        type_code=type_code,
                        first_response_minutes=fr,
                        next_response_minutes=nr,
                        resolution_minutes=res,
                        raise_priority=bump,
                    )
                )
            for day, kind, label in default_calendar_days():
                session.add(CalendarDay(day=day, kind=kind, name=label))
            await session.flush()
    session.sync_session.info["kefu_ticket_seeded"] = True


async def get_settings(session: AsyncSession) -> dict[str, Any]:
    cached = session.sync_session.info.get(_CACHE_KEY)
    if cached is not None:
        return dict(cached)
    await ensure_defaults(session)
    row = await session.get(TicketSettings, 1)
    data = _merge(row.data if row else {})
    session.sync_session.info[_CACHE_KEY] = data
    return dict(data)


async def save_settings(session: AsyncSession, changes: dict[str, Any]) -> dict[str, Any]:
    await ensure_defaults(session)
    row = await session.get(TicketSettings, 1)
    assert row is not None
    stored = dict(row.data or {})
    stored.update(changes)
    row.data = stored
    session.sync_session.info.pop(_CACHE_KEY, None)
    await session.flush()
    return _merge(stored)


# ---- editing (settings pages; every change audited) ---------------------------------------


async def update_general(
    session: AsyncSession, actor: Any, changes: dict[str, Any]
) -> dict[str, Any]:
    from kefu.core.audit import record_audit

    before = await get_settings(session)
    after = await save_settings(session, changes)
    await record_audit(
        session, actor, "ticket.settings.update", "ticket_settings", 1,
        before={k: before.get(k) for k in changes}, after={k: after.get(k) for k in changes},
    )  # fmt: skip
    return after


async def add_type(
    session: AsyncSession, actor: Any, *, code: str, name_zh: str, name_en: str,
    fields: list[dict[str, Any]],
) -> TicketType:  # fmt: skip
    import re

    from kefu.core.audit import record_audit
    from kefu.core.errors import Conflict, Invalid

    await ensure_defaults(session)
    code = code.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", code):
        raise Invalid(
            "类型代码需以字母开头，只含小写字母、数字和下划线",
            "The code must start with a letter and use a-z, 0-9 and _",
        )
    if not name_zh.strip():
        raise Invalid("请填写类型名称", "Enter a name")
    if await session.scalar(select(TicketType.id).where(TicketType.code == code)) is not None:
        raise Conflict("该类型代码已存在", "This code already exists")
    kind = TicketType(
        code=code, name_zh=name_zh.strip()[:40], name_en=name_en.strip()[:60], fields=fields,
        sort=100, is_active=True,
    )  # fmt: skip
    session.add(kind)
    await session.flush()
    await record_audit(
        session, actor, "ticket.type.create", "ticket_type", kind.id,
        after={"code": code, "name_zh": kind.name_zh, "fields": fields},
    )  # fmt: skip
    return kind


async def set_type_active(session: AsyncSession, actor: Any, type_id: int, active: bool) -> None:
    from kefu.core.audit import record_audit
    from kefu.core.errors import NotFound

    kind = await session.get(TicketType, type_id)
    if kind is None:
        raise NotFound("找不到该类型", "Type not found")
    before = kind.is_active
    kind.is_active = active
    await record_audit(
        session, actor, "ticket.type.update", "ticket_type", kind.id,
        before={"is_active": before}, after={"is_active": active},
    )  # fmt: skip
    await session.flush()


async def add_policy(session: AsyncSession, actor: Any, values: dict[str, Any]) -> SlaPolicy:
    from kefu.core.audit import record_audit
    from kefu.core.errors import Invalid

    await ensure_defaults(session)
    for key in ("first_response_minutes", "next_response_minutes", "resolution_minutes"):
        if int(values.get(key) or 0) <= 0:
            raise Invalid("时限须为正整数（分钟）", "Targets must be positive minutes")
    ratio = float(values.get("warn_ratio") or 0.8)
    if not 0 < ratio < 1:
        raise Invalid("预警比例须在 0 与 1 之间", "The warning share must be between 0 and 1")
    policy = SlaPolicy(**values)
    session.add(policy)
    await session.flush()
    await record_audit(
        session, actor, "sla_policy.create", "sla_policy", policy.id,
        after={k: v for k, v in values.items()},
    )  # fmt: skip
    return policy


async def delete_policy(session: AsyncSession, actor: Any, policy_id: int) -> None:
    from kefu.core.audit import record_audit
    from kefu.core.errors import NotFound

    policy = await session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("找不到该 SLA 策略", "Policy not found")
    before = {"name": policy.name, "priority": policy.priority, "tier": policy.customer_tier}
    policy.is_active = False
    await record_audit(
        session, actor, "sla_policy.disable", "sla_policy", policy.id, before=before,
        after={**before, "is_active": False}, only_changes=False,
    )  # fmt: skip
    await session.flush()


async def set_calendar_day(
    session: AsyncSession, actor: Any, day: Any, kind: str | None, name: str = ""
) -> None:
    """Add or change a holiday / adjusted working day; kind None removes the day."""
    from kefu.core.audit import record_audit
    from kefu.core.errors import Invalid

    await ensure_defaults(session)
    if kind not in (None, "holiday", "workday"):
        raise Invalid("日期类型只能是放假或调休上班", "Kind must be holiday or workday")
    row = await session.get(CalendarDay, day)
    before = {"kind": row.kind, "name": row.name} if row else None
    if kind is None:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(CalendarDay(day=day, kind=kind, name=name.strip()[:40]))
    else:
        row.kind, row.name = kind, name.strip()[:40]
    await record_audit(
        session, actor, "ticket.calendar.update", "ticket_calendar", day.isoformat(),
        before=before, after=None if kind is None else {"kind": kind, "name": name},
        only_changes=False,
    )  # fmt: skip
    await session.flush()
