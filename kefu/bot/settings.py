"""A store's bot settings, kept in `Store.settings["bot"]`.

Every field has a default, so a store that never opened the settings page gets a sensible bot;
the bot is switched on by default only in the demo shop (`settings["demo"]`), so a real shop
opts in. A hand-edited value that does not validate falls back to the defaults rather than
stopping the chat.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.core.errors import Invalid
from kefu.store.models import Store
from kefu.store.settings_sections import (
    parse_section,
    read_section,
    save_sections,
    store_for_settings,
)

BotMode = Literal["first", "fallback"]

# Words after which a shopper must reach a person at once, whatever the shop configures.
COMPLAINT_WORDS = ("投诉", "12315", "假货", "工商", "律师", "曝光")


class BotSettings(BaseModel):
    enabled: bool = False
    # first: the bot answers every new conversation until it hands over.
    # fallback: routing goes first; the bot answers only while no agent has the chat.
    mode: BotMode = "first"
    name: str = Field(default="智能助手", min_length=1, max_length=20)
    answer_threshold: float = Field(default=0.6, ge=0.05, le=1.0)
    suggest_threshold: float = Field(default=0.3, ge=0.05, le=1.0)
    # Hand over after this many turns in a row the bot did not understand (0 = never).
    low_confidence_turns: int = Field(default=2, ge=0, le=10)
    # Hand over when the sentiment model's negative probability is at least this (1 = never).
    negative_threshold: float = Field(default=0.9, ge=0.5, le=1.0)
    vip_handoff: bool = False
    handoff_keywords: list[str] = Field(default_factory=list, max_length=50)
    # Promised dispatch time after payment, told to a customer who urges shipping.
    ship_within_hours: int = Field(default=48, ge=1, le=24 * 30)
    # Code of the skill group whose queue receives "催发货" tickets (empty: no group).
    warehouse_group: str = Field(default="", max_length=40)
    # Let the configured LLM (KEFU_LLM_BASE_URL) reword FAQ answers; facts stay the KB's.
    llm_rephrase: bool = False

    @field_validator("handoff_keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for word in value:
            word = word.strip()
            if word and word not in cleaned:
                if len(word) > 20:
                    raise ValueError("a keyword has at most 20 characters")
                cleaned.append(word)
        return cleaned

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return value.strip()


def bot_settings(store: Store | None) -> BotSettings:
    # The demo shop has its bot on; every other store starts with it off.
    default_on = bool((store.settings or {}).get("demo")) if store is not None else False
    return read_section(store, "bot", BotSettings, enabled=default_on)


async def save_bot_settings(
    session: AsyncSession, actor: Actor, store_id: int, data: dict[str, Any]
) -> BotSettings:
    """Validate and store a store's bot settings, audited."""
    store = await store_for_settings(session, store_id)
    parsed = parse_section(BotSettings, data, "机器人设置", "bot settings")
    if parsed.suggest_threshold > parsed.answer_threshold:
        raise Invalid(
            "推荐阈值不能高于直接回答阈值",
            "The suggestion threshold cannot be above the answer threshold",
        )
    await save_sections(session, actor, store, "store.bot_settings", {"bot": parsed})
    return parsed
