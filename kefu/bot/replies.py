"""The shapes a bot turn produces: messages to post and what the turn log records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HUMAN_CHOICE = {"label": "转人工", "text": "转人工"}


@dataclass
class Outgoing:
    """One message to the customer; with choices it is a `choices` message the widget shows
    as buttons (a button sends its `text` as the customer's next message)."""

    body: str
    choices: list[dict[str, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "choices" if self.choices else "text"

    def payload(self) -> dict[str, Any]:
        return {"choices": self.choices} if self.choices else {}


@dataclass
class TurnResult:
    replies: list[Outgoing] = field(default_factory=list)
    # answered | suggested | none | action | asked | handoff | message_taken
    outcome: str = "none"
    action_result: str = ""
    handoff_reason: str = ""
    order_id: int | None = None
    # Extra lines for the agent's handover note (e.g. the after-sales decision).
    note: str = ""

    def say(self, body: str, choices: list[dict[str, str]] | None = None) -> TurnResult:
        self.replies.append(Outgoing(body, list(choices or [])))
        return self
