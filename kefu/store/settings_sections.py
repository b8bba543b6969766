"""Per-store settings sections kept in `store.settings` (bot, chat routing, order service …).

Each feature owns a Pydantic model for its section. Reading falls back to the defaults when a
hand-edited value does not validate, so a broken setting never stops the feature; saving
validates with a precise, bilingual error, replaces the section and writes one audit entry.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Invalid, NotFound, field_errors
from kefu.store.models import Store

M = TypeVar("M", bound=BaseModel)


def read_section(store: Store | None, key: str, model: type[M], **defaults: Any) -> M:
    """The store's section `key` as `model`; the defaults if missing or broken."""
    raw = (store.settings or {}).get(key) if store is not None else None
    if isinstance(raw, dict):
        try:
            return model.model_validate({**defaults, **raw})
        except ValidationError:
            pass
    return model.model_validate(defaults)


def parse_section(model: type[M], data: dict[str, Any], what_zh: str, what_en: str) -> M:
    """`data` as `model`, or `Invalid` naming every bad field in Chinese and English."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = field_errors(list(exc.errors()))
        raise Invalid(
            f"{what_zh}有误：" + "；".join(f"{p['field']} {p['message_zh']}" for p in problems),
            f"Invalid {what_en}: " + "; ".join(p["message_en"] for p in problems),
            errors=problems,
        ) from exc


async def store_for_settings(session: AsyncSession, store_id: int) -> Store:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    return store


async def save_sections(
    session: AsyncSession, actor: Actor, store: Store, action: str, sections: dict[str, Any]
) -> None:
    """Replace the given top-level keys of `store.settings` (models are stored as JSON) and
    audit the change as `action`, with the values before and after."""
    stored = {
        key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        for key, value in sections.items()
    }
    before = {key: (store.settings or {}).get(key) for key in stored}
    # A new dict, so SQLAlchemy sees the JSON column change.
    store.settings = {**(store.settings or {}), **stored}
    await record_audit(
        session, actor, action, "store", store.id, before=before, after=stored, store_id=store.id
    )
    await session.flush()
