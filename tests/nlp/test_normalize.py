"""Normalisation of shoppers' typing."""

from __future__ import annotations

import pytest

from kefu.nlp.normalize import (
    expand_shorthand,
    fix_homophones,
    normalize,
    strip_emoji,
    to_halfwidth,
    to_simplified,
)


def test_fullwidth_letters_digits_and_punctuation_become_halfwidth() -> None:
    assert to_halfwidth("ＸＬ码有吗？１２３") == "XL码有吗?123"


def test_traditional_becomes_simplified() -> None:
    assert to_simplified("親，這件衣服還有貨嗎") == "亲，这件衣服还有货吗"
    assert to_simplified("已经是简体") == "已经是简体"


def test_emoji_and_emoticon_codes_are_removed() -> None:
    assert strip_emoji("好的😊👍[微笑]").strip() == "好的"


def test_shorthand_replaces_whole_latin_words_only() -> None:
    assert expand_shorthand("能发sf吗") == "能发顺丰吗"
    assert expand_shorthand("能开fp吗 3q") == "能开发票吗 谢谢"
    # Sizes are not shorthand.
    assert expand_shorthand("xl码") == "xl码"


def test_homophone_typos_are_repaired() -> None:
    assert fix_homophones("黑色游货吗") == "黑色有货吗"
    assert fix_homophones("能走顺风吗") == "能走顺丰吗"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("親，這件衣服還有貨嗎？😊", "这件衣服还有货吗?"),
        ("亲亲 游货吗", "有货吗"),
        ("有货么", "有货吗"),
        ("什么时候发货呢亲", "什么时候发货"),
        ("哈哈哈 好的谢谢啦", "好的谢谢"),
        ("嗯，退款咋还没到呢", "退款怎么还没到"),
        ("kd到那了", "快递到哪了"),
        ("尺码偏大吗~~~", "尺码偏大吗"),
    ],
)
def test_normalize_end_to_end(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_order_numbers_survive_normalisation() -> None:
    assert "202311150001" in normalize("订单２０２３１１１５０００１到哪了呀")
    assert "2023112012345678" in normalize("订单号2023112012345678")


def test_case_folding() -> None:
    assert normalize("HELLO") == "hello"


def test_address_qin_is_removed_but_words_with_qin_stay() -> None:
    assert normalize("亲戚说这个好") == "亲戚说这个好"
    assert normalize("亲，在吗") == "在吗"
