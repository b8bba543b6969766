"""The help center's search: the bot's retrieval when it is there, a plain match otherwise;
and the live entries plug straight into the bot's pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.pipeline import BotPipeline
from kefu.knowledge import importer, search, service
from tests.knowledge.conftest import EDITOR
from tests.store.conftest import MakeStore


@pytest.fixture
async def live(session: AsyncSession, make_store: MakeStore, kb_bytes: bytes) -> Any:
    store = await make_store(code="search-shop")
    await importer.import_faq_json(session, EDITOR, kb_bytes)
    return await service.active_faq_entries(session, store.id, "help")


@pytest.mark.parametrize("backend", ["bot", "simple"])
async def test_search_finds_the_entry(live: Any, backend: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(search, "BACKEND", backend)
    hits = search.search_entries(live, "发票怎么开")
    assert hits and hits[0].entry.external_id == "F10"
    assert search.search_entries(live, "   ") == []


async def test_bot_search_tolerates_typos(live: Any) -> None:
    # The bot's normaliser turns 游货 into 有货; a substring match could not.
    hits = search.search_entries(live, "这个颜色还游货吗")
    assert hits and hits[0].entry.external_id == "F06"


async def test_live_entries_feed_the_bot_pipeline(live: Any) -> None:
    pipeline = BotPipeline.from_data([e.as_bot_dict() for e in live], [])
    assert pipeline.understand("能开发票吗").label == "faq:F10"
