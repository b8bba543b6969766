"""The shipped sentiment model, its CLI and its training function."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.nlp.cli import nlp_app
from kefu.nlp.sentiment import (
    NEUTRAL_HIGH,
    NEUTRAL_LOW,
    SentimentModel,
    featurize,
    metrics,
    predict_sentiment,
    prepare,
    train_sentiment,
)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "text",
    [
        "衣服质量很好，穿着很舒服，好评",
        "物流很快，客服态度也好，下次还来",
        "没有色差，和图片一样好看",
        "不错，性价比很高",
    ],
)
def test_clear_positive_shop_sentences(text: str) -> None:
    assert predict_sentiment([text])[0].label == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "质量太差了，洗一次就坏了",
        "客服态度恶劣，再也不买了",
        "等了十天还没发货，太慢了",
        "不太好，有很多线头",
    ],
)
def test_clear_negative_shop_sentences(text: str) -> None:
    assert predict_sentiment([text])[0].label == "negative"


def test_held_out_handwritten_shop_reviews_are_mostly_right() -> None:
    rows = [
        line.split("\t")
        for line in (DATA / "ecommerce_sentiment.tsv").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    results = predict_sentiment([text for _, text in rows])
    m = metrics([int(label) for label, _ in rows], [r.negative_prob for r in results])
    assert m.accuracy >= 0.85


def test_neutral_band_and_empty_text() -> None:
    result = predict_sentiment(["什么时候发货", ""])
    assert result[1].label == "neutral" and result[1].negative_prob == 0.5
    assert 0.0 <= result[0].negative_prob <= 1.0
    assert NEUTRAL_LOW < NEUTRAL_HIGH


def test_features_are_deterministic_and_include_negation_scope() -> None:
    negated = featurize(prepare("不太好"))
    assert (negated == featurize(prepare("不太好"))).all()
    plain = featurize(prepare("太好"))
    # The negation scope and the "negated positive" marker add features "太好" lacks.
    assert len(set(negated) - set(plain)) > 8


def test_sentiment_cli_writes_one_line_per_input() -> None:
    lines = ["质量很好，很满意", "太差了，再也不买了", "not json", ""]
    stdin = "".join(
        (json.dumps({"text": t}, ensure_ascii=False) if t != "not json" else t) + "\n"
        for t in lines
    )
    result = CliRunner().invoke(nlp_app, ["sentiment"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(out) == 4
    for row in out:
        assert set(row) == {"label", "negative_prob"}
        assert row["label"] in {"negative", "neutral", "positive"}
        assert 0.0 <= row["negative_prob"] <= 1.0
    assert out[0]["label"] == "positive"
    assert out[1]["label"] == "negative"
    assert out[2]["label"] == "neutral"


def _write_csv(path: Path, rows: list[tuple[int, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "review"])
        writer.writerows(rows)


def test_training_on_a_small_sample_writes_a_loadable_model(tmp_path: Path) -> None:
    good = ["很好", "非常满意", "质量不错", "好评推荐", "喜欢", "很棒很舒服"]
    bad = ["很差", "非常失望", "质量太差", "差评", "讨厌", "坏了不能用"]
    rows = [(1, f"{g}{i}") for i in range(20) for g in good]
    rows += [(0, f"{b}{i}") for i in range(20) for b in bad]
    corpus = tmp_path / "tiny.csv"
    _write_csv(corpus, rows)
    out = tmp_path / "model.npz"
    result = train_sentiment([corpus], out, include_ecommerce=False)
    assert result["train"] + result["test"] == len(rows)
    assert result["test_metrics"]["accuracy"] >= 0.9
    model = SentimentModel.load(out)
    assert model.predict(["质量很差"])[0].negative_prob > 0.5
    assert model.meta["bits"] == 18


def test_training_rejects_one_sided_data(tmp_path: Path) -> None:
    corpus = tmp_path / "one.csv"
    _write_csv(corpus, [(1, f"好{i}") for i in range(30)])
    with pytest.raises(ValueError):
        train_sentiment([corpus], tmp_path / "m.npz", include_ecommerce=False)
