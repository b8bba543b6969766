"""Per-store order-service settings, kept under `store.settings["orderservice"]`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Invalid, field_errors
from kefu.store.models import Store

SETTINGS_KEY = "orderservice"


class OrderServiceSettings(BaseModel):
    # Two orders of the same SKU by the same buyer this many days apart or less are flagged.
    duplicate_window_days: int = Field(default=7, ge=1, le=90)
    # Post the polite question into the buyer's latest chat as soon as something is detected.
    auto_ask: bool = False


def settings_for(store: Store) -> OrderServiceSettings:
    raw = (store.settings or {}).get(SETTINGS_KEY) or {}
    try:
        return OrderServiceSettings.model_validate(raw)
    except ValidationError:
        # A hand-edited, broken value must not stop detection: fall back to the defaults.
        return OrderServiceSettings()


async def update_settings(
    session: AsyncSession, actor: Actor, store: Store, values: dict[str, Any]
) -> OrderServiceSettings:
    try:
        new = OrderServiceSettings.model_validate(values)
    except ValidationError as exc:
        raise Invalid(
            "设置有误：重复购买窗口须为 1–90 天",
            "Invalid settings: the duplicate window must be 1–90 days",
            errors=field_errors(list(exc.errors())),
        ) from None
    old = settings_for(store)
    # A new dict, so SQLAlchemy sees the JSON column change.
    store.settings = {**(store.settings or {}), SETTINGS_KEY: new.model_dump()}
    await session.flush()
    await record_audit(
        session, actor, "orderservice.settings", "store", store.id,
        before=old.model_dump(), after=new.model_dump(), store_id=store.id,
    )  # fmt: skip
    return new
