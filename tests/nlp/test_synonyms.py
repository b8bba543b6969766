"""The editable synonym table."""

from __future__ import annotations

import pytest

from kefu.nlp.segment import segment
from kefu.nlp.synonyms import SynonymTable, SynonymTableError, default_synonyms


def test_default_table_maps_common_shop_synonyms() -> None:
    table = default_synonyms()
    assert table.canonical("邮费") == "运费"
    assert table.canonical("码数") == "尺码"
    assert table.canonical("退掉") == "退货"
    assert table.canonical("号") == "尺码"


def test_hints_add_a_concept_and_keep_the_word() -> None:
    words, hints = default_synonyms().apply(segment("我170穿着会不会紧"))
    assert "紧" in words
    assert "尺码" in [h for h, _ in hints]


def test_phrases_of_several_tokens_are_matched() -> None:
    words, _ = default_synonyms().apply(["退", "的", "钱", "多久"])
    assert words[0] == "退款"


def test_canonical_with_underscore_expands_to_several_words() -> None:
    words, _ = default_synonyms().apply(segment("下单后还能换地址吗"))
    assert "修改" in words and "地址" in words


def test_shop_table_overrides_default() -> None:
    shop = SynonymTable.parse("# 本店\n羽绒服 = 棉服 面包服\n尺码 + 宽松度\n")
    merged = default_synonyms().merged(shop)
    assert merged.canonical("面包服") == "羽绒服"
    assert merged.canonical("邮费") == "运费"  # default kept
    assert merged.hints["宽松度"] == ["尺码"]


def test_bad_line_is_reported_in_both_languages() -> None:
    with pytest.raises(SynonymTableError) as err:
        SynonymTable.parse("尺码 码数")
    assert "第 1 行" in str(err.value) and "line 1" in str(err.value)
