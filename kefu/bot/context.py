"""Everything one bot turn works with, passed to the dialogue, the actions and the handover."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.models import BotSession
from kefu.bot.pipeline import Understanding
from kefu.bot.settings import BotSettings
from kefu.conversations.models import Conversation
from kefu.core.audit import Actor
from kefu.store.models import Customer, Store


@dataclass
class Turn:
    session: AsyncSession
    store: Store
    settings: BotSettings
    conversation: Conversation
    state: BotSession
    text: str
    understanding: Understanding
    customer: Customer | None
    now: datetime
    negative_prob: float | None = None
    faq_ids: dict[str, int] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return Actor("bot", None, self.settings.name)

    @property
    def signed_customer_id(self) -> int | None:
        """The customer the shop vouched for (signed widget identity), if any."""
        return self.conversation.customer_id

    @property
    def slots(self) -> dict[str, str]:
        return self.understanding.slots

    @property
    def tz(self) -> str:
        return self.store.timezone or "Asia/Shanghai"

    def set_pending(self, step: str, **data: Any) -> None:
        self.state.pending = {"step": step, "at": self.now.isoformat(), **data}

    def clear_pending(self) -> None:
        self.state.pending = {}
