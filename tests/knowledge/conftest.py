"""Knowledge-base fixtures: the shop FAQ file (a copy of datasets/faq_bench/kb.json), stores,
and a committed FAQ factory."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kefu.core.audit import Actor
from kefu.core.db import Database
from kefu.knowledge import service
from kefu.knowledge.models import Faq
from kefu.knowledge.schemas import FaqIn
from tests.store.conftest import make_store  # noqa: F401  (fixture re-used here)

KB_PATH = Path(__file__).parent / "data" / "kb.json"
EDITOR = Actor("user", 1, "王主管")

MakeFaq = Callable[..., Awaitable[Faq]]


@pytest.fixture
def kb_bytes() -> bytes:
    return KB_PATH.read_bytes()


@pytest.fixture
def kb_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(KB_PATH.read_text(encoding="utf-8"))
    return items


@pytest.fixture
def make_faq(db: Database) -> MakeFaq:
    """`await make_faq(question="包邮吗？", answer="满99包邮", **FaqIn fields)`."""

    async def make(**fields: Any) -> Faq:
        values: dict[str, Any] = {
            "question": "包邮吗？",
            "answer": "全场满99元包邮。",
            "category": "售前",
        }
        values.update(fields)
        async with db.sessionmaker() as s:
            faq = await service.create_faq(s, EDITOR, FaqIn(**values))
            await s.commit()
            return faq

    return make
