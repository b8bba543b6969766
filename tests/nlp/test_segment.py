"""Segmentation with the e-commerce user dictionary."""

from __future__ import annotations

from kefu.nlp.segment import segment, stopwords


def test_user_dictionary_keeps_shop_words_whole() -> None:
    assert "运费险" in segment("有运费险吗")
    assert "七天无理由" in segment("支持七天无理由退货吗")
    assert "有货" in segment("黑色l码有货吗")


def test_glued_jieba_entries_are_split_so_the_domain_word_surfaces() -> None:
    assert "顺丰" in segment("能发顺丰吗")
    assert "运费" in segment("退货运费谁承担")


def test_numbers_are_kept_and_punctuation_dropped() -> None:
    tokens = segment("帮我查一下订单202311150001！")
    assert "202311150001" in tokens
    assert "！" not in tokens and "!" not in tokens


def test_stopwords_are_particles_not_question_words() -> None:
    words = stopwords()
    assert "的" in words and "吗" in words
    assert "怎么" not in words and "多久" not in words
