"""One pipeline per test session: building it loads jieba's dictionary (~0.5 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kefu.bot.pipeline import BotPipeline

DATA = Path(__file__).parent / "data"


def load_cases(name: str) -> list[dict[str, Any]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def pipeline() -> BotPipeline:
    return BotPipeline.from_files(DATA / "kb.json", DATA / "intents.json")


# --- the live bot ---------------------------------------------------------------------------

from collections.abc import Awaitable, Callable, Iterator  # noqa: E402

from kefu.bot.knowledge_cache import clear_cache  # noqa: E402
from tests.conversations.chat import agent_cookie  # noqa: E402, F401 - fixture
from tests.store.conftest import make_customer, make_order, make_store  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _fresh_pipelines() -> Iterator[None]:
    """Store ids restart with every test database; a cached pipeline must not leak over."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def make_faq(db: Any) -> Callable[..., Awaitable[int]]:
    """`await make_faq("退货运费谁出", "…", similar=[…])` → the entry's id, via the service."""
    from kefu.core.audit import Actor
    from kefu.knowledge import service
    from kefu.knowledge.schemas import FaqIn

    async def make(question: str, answer: str, **fields: Any) -> int:
        async with db.sessionmaker() as s:
            faq = await service.create_faq(
                s, Actor("system", None, "test"), FaqIn(question=question, answer=answer, **fields)
            )
            await s.commit()
            return faq.id

    return make
