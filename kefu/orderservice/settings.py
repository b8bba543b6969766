"""Per-store order-service settings, kept under `store.settings["orderservice"]`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.store.models import Store
from kefu.store.settings_sections import (
    parse_section,
    read_section,
    save_sections,
)

SETTINGS_KEY = "orderservice"


class OrderServiceSettings(BaseModel):
    # Two orders of the same SKU by the same buyer this many days apart or less are flagged.
    duplicate_window_days: int = Field(default=7, ge=1, le=90)
    # Post the polite question into the buyer's latest chat as soon as something is detected.
    auto_ask: bool = False


def settings_for(store: Store) -> OrderServiceSettings:
    # A hand-edited, broken value must not stop detection: the defaults apply.
    return read_section(store, SETTINGS_KEY, OrderServiceSettings)


async def update_settings(
    session: AsyncSession, actor: Actor, store: Store, values: dict[str, Any]
) -> OrderServiceSettings:
    new = parse_section(OrderServiceSettings, values, "订单服务设置", "order-service settings")
    await save_sections(session, actor, store, "orderservice.settings", {SETTINGS_KEY: new})
    return new
