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
