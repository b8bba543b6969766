"""The whole pipeline: decisions, thresholds, the harder held-out style, the predict CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kefu.bot.cli import bot_app
from kefu.bot.pipeline import BotPipeline, Thresholds
from tests.bot.conftest import DATA, load_cases


@pytest.mark.parametrize(
    "text",
    [
        "中通快递的客服电话你知道吗",
        "顺丰的网点几点关门",
        "今天天气怎么样",
        "帮我写一首关于秋天的诗",
        "怎么做红烧肉",
        "淘宝会员怎么开通",
    ],
)
def test_out_of_scope_messages_fall_back(pipeline: BotPipeline, text: str) -> None:
    result = pipeline.understand(text)
    assert result.label == "none"
    assert result.action == "fallback"


def test_answer_suggest_and_fallback_bands(pipeline: BotPipeline) -> None:
    t = pipeline.thresholds
    assert t.suggest < t.answer
    confident = pipeline.understand("有运费险吗")
    assert confident.action == "answer" and confident.confidence >= t.answer
    assert confident.faq is not None and confident.faq.id == "F26"
    weak = pipeline.understand("我170穿着会不会紧")
    assert weak.label == "faq:F04"
    assert weak.action in {"answer", "suggest"}
    assert len(weak.suggestions) == 3  # the "您是不是想问…" list


def test_stricter_thresholds_turn_a_suggestion_into_a_fallback() -> None:
    strict = BotPipeline.from_files(
        DATA / "kb.json", DATA / "intents.json", thresholds=Thresholds(answer=0.99, suggest=0.98)
    )
    assert strict.understand("我170穿着会不会紧").label == "none"


def test_explicit_action_beats_a_matching_faq(pipeline: BotPipeline) -> None:
    result = pipeline.understand("订单202311150001我要退货")
    assert result.label == "intent:return_request"
    assert result.slots["order_no"] == "202311150001"


def test_empty_message(pipeline: BotPipeline) -> None:
    result = pipeline.understand("  😊 ")
    assert result.label == "none" and result.action == "fallback"


@pytest.mark.parametrize("name", ["hard_cases.jsonl", "fresh_cases.jsonl", "blind_cases.jsonl"])
def test_harder_phrasing_sets(pipeline: BotPipeline, name: str) -> None:
    """Hand-written cases in the held-out style: typos, pinyin, traditional, context, 亲."""
    cases = load_cases(name)
    in_scope = [c for c in cases if c["expect"] != ["none"]]
    oos = [c for c in cases if c["expect"] == ["none"]]
    right = [c["text"] for c in in_scope if pipeline.understand(c["text"]).label in c["expect"]]
    rejected = [c["text"] for c in oos if pipeline.understand(c["text"]).label == "none"]
    assert len(right) / len(in_scope) >= 0.9
    assert len(rejected) / len(oos) >= 0.6
    for case in cases:
        if "slots" in case:
            slots = pipeline.understand(case["text"]).slots
            assert all(slots.get(k) == v for k, v in case["slots"].items())


def test_predict_cli_writes_the_contract_shape() -> None:
    texts = ["能发sf吗", "帮我查一下订单202311150001", "今天天气怎么样"]
    stdin = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    result = CliRunner().invoke(
        bot_app,
        ["predict", "--kb", str(DATA / "kb.json"), "--intents", str(DATA / "intents.json")],
        input=stdin,
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 3
    for text, row in zip(texts, rows, strict=True):
        assert list(row) == ["text", "label", "confidence", "slots"]
        assert row["text"] == text
        assert isinstance(row["confidence"], float) and 0.0 <= row["confidence"] <= 1.0
        assert isinstance(row["slots"], dict)
    assert rows[0]["label"] == "faq:F02"
    assert rows[1] == {
        "text": texts[1],
        "label": "intent:order_status",
        "confidence": rows[1]["confidence"],
        "slots": {"order_no": "202311150001"},
    }
    assert rows[2]["label"] == "none"


def test_predict_cli_keeps_one_line_per_input_on_bad_lines() -> None:
    result = CliRunner().invoke(
        bot_app,
        ["predict", "--kb", str(DATA / "kb.json"), "--intents", str(DATA / "intents.json")],
        input='not json\n{"text": "包邮吗"}\n',
    )
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["label"] for r in rows] == ["none", "faq:F03"]


def test_predict_cli_reports_a_missing_kb_in_both_languages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        bot_app,
        ["predict", "--kb", str(tmp_path / "nope.json"), "--intents", str(DATA / "intents.json")],
        input="",
    )
    assert result.exit_code == 2
    assert "找不到文件" in result.output and "file not found" in result.output
