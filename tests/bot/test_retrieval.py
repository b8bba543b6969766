"""FAQ retrieval: ranking, short messages, confidence."""

from __future__ import annotations

import pytest

from kefu.bot.pipeline import BotPipeline
from kefu.bot.retrieval import FaqEntry, FaqRetriever, TextAnalyzer
from kefu.nlp.synonyms import SynonymTable


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("邮费怎么算", "F03"),  # synonym 邮费 → 运费
        ("我170穿着会不会紧", "F04"),  # concept hint: 紧 → 尺码
        ("還有貨嗎", "F06"),  # traditional characters
        ("能开fp吗", "F10"),  # shorthand
        ("退宽多久到账", "F28"),  # homophone typo
        ("包邮?", "F03"),  # very short message
        ("两个单子能合在一起发吗", "F21"),
    ],
)
def test_paraphrases_rank_the_right_entry_first(
    pipeline: BotPipeline, text: str, entry: str
) -> None:
    hits = pipeline.search_faq(pipeline.understand(text).normalized)
    assert hits[0].entry.id == entry


def test_confidence_is_a_probability_and_ranked(pipeline: BotPipeline) -> None:
    hits = pipeline.retriever.search("退货运费谁出", limit=3)
    assert len(hits) == 3
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)
    assert hits[0].confidence >= hits[1].confidence


def test_exact_question_is_confident(pipeline: BotPipeline) -> None:
    hit = pipeline.retriever.search("有运费险吗")[0]
    assert hit.entry.id == "F26" and hit.confidence > 0.8


def test_unrelated_text_has_low_confidence(pipeline: BotPipeline) -> None:
    hits = pipeline.retriever.search("怎么做红烧肉")
    assert not hits or hits[0].confidence < 0.3


def test_empty_index_and_empty_query() -> None:
    retriever = FaqRetriever([], TextAnalyzer())
    assert retriever.search("包邮吗") == []
    full = FaqRetriever([FaqEntry("A", "包邮吗")], TextAnalyzer())
    assert full.search("") == []


def test_shop_synonym_table_changes_matching() -> None:
    entries = [FaqEntry("D1", "羽绒服怎么洗"), FaqEntry("D2", "运费多少")]
    intents: list = []
    plain = BotPipeline(entries, intents)
    shop = BotPipeline(entries, intents, synonyms=SynonymTable.parse("羽绒服 = 面包服\n"))
    assert shop.understand("面包服能机洗吗").label == "faq:D1"
    assert (
        shop.understand("面包服能机洗吗").confidence > plain.understand("面包服能机洗吗").confidence
    )
