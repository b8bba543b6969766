"""Text normalisation for shoppers' chat messages.

Shoppers type on phones with pinyin input methods, so the same question arrives as
"親，這件還有貨嗎😊", "亲亲 游货吗" or "有货么". `normalize` maps all of these to one canonical
form before segmentation, in this order (each step is also a public function):

1. Unicode NFKC: full-width letters, digits and punctuation become half-width ("ＸＬ" → "XL",
   "１２３" → "123", "？" → "?"). Order numbers survive unchanged.
2. Traditional → simplified Chinese with OpenCC (t2s). The conversion is only run when the
   text contains a character that OpenCC would change, because most messages are simplified.
3. Case folding (lower case).
4. Emoji, emoticon codes such as "[微笑]" and zero-width joiners are removed.
5. Latin shorthand and pinyin words ("sf" → 顺丰, "fp" → 发票, "3q" → 谢谢) are replaced from a
   table; only whole latin/digit runs are replaced, so "XL" sizes and order numbers are kept.
6. Domain homophone typos ("游货" → "有货", "顺风" → "顺丰") are repaired from a small table.
7. Filler words: the form of address 亲/亲亲/亲爱的, laughter (哈哈, 呵呵) and sentence-final
   particles (呢/哦/呀/啊/啦/嘛 …) are dropped; "么" as a final question particle becomes "吗".
   Repeated punctuation is collapsed.

Tables live in `kefu/nlp/data/` (shorthand.tsv, homophones.tsv) and are plain text a shop can
read and extend.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path

import opencc

_DATA = resources.files("kefu.nlp") / "data"


def read_table(text: str) -> dict[str, str]:
    """Parse a two-column TSV table (``#`` comments, blank lines ignored)."""
    table: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("\t")
        key = key.strip()
        if key:
            table[key] = value.strip()
    return table


def _data_text(name: str) -> str:
    return (_DATA / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    """Characters OpenCC's t2s dictionaries would change (to skip conversion when none occur)."""
    base = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        path = base / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("\t")
            first = value.split(" ")[0] if value else ""
            if len(key) == 1 and first != key:
                chars.add(key)
            elif len(key) > 1:
                chars.update(c for c, s in zip(key, first, strict=False) if c != s)
    return frozenset(chars)


@lru_cache(maxsize=1)
def _traditional_re() -> re.Pattern[str]:
    chars = "".join(sorted(_traditional_chars()))
    return re.compile(f"[{re.escape(chars)}]") if chars else re.compile(r"(?!x)x")


@lru_cache(maxsize=1)
def shorthand_table() -> dict[str, str]:
    return {k.lower(): v for k, v in read_table(_data_text("shorthand.tsv")).items()}


@lru_cache(maxsize=1)
def _homophone_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    table = read_table(_data_text("homophones.tsv"))
    keys = sorted(table, key=len, reverse=True)
    return re.compile("|".join(re.escape(k) for k in keys)), table


def to_halfwidth(text: str) -> str:
    """Full-width → half-width (NFKC) and ideographic space → space."""
    return unicodedata.normalize("NFKC", text)


def to_simplified(text: str) -> str:
    """Traditional → simplified; a no-op (and cheap) for text that is already simplified."""
    if not _traditional_re().search(text):
        return text
    converted: str = _converter().convert(text)
    return converted


_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, supplemental symbols
    "\u2600-\u27bf"  # misc symbols, dingbats (☺ ✨ ❤)
    "\u2b00-\u2bff"  # arrows and stars (⭐)
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, zero-width joiner, keycap
    "]+"
)
# WeChat / Taobao emoticon codes such as [微笑] [捂脸] [OK].
_EMOTICON_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,4}\]")


def strip_emoji(text: str) -> str:
    """Remove emoji and bracketed emoticon codes; they carry no question content."""
    text = _EMOTICON_CODE.sub(" ", text)
    return _EMOJI.sub(" ", text)


_LATIN_RUN = re.compile(r"[a-z0-9]+")


def expand_shorthand(text: str) -> str:
    """Replace whole latin/digit runs found in the shorthand table (expects lower case)."""
    table = shorthand_table()

    def repl(match: re.Match[str]) -> str:
        return table.get(match.group(0), match.group(0))

    return _LATIN_RUN.sub(repl, text)


def fix_homophones(text: str) -> str:
    pattern, table = _homophone_pattern()
    return pattern.sub(lambda m: table[m.group(0)], text)


_PUNCT = r"\s,.!?;:~、，。！？；：～…"
# 亲 / 亲亲 / 亲爱的 used as a form of address at a clause edge (not 亲戚, 亲自, 亲测).
_ADDRESS = re.compile(
    rf"(?:(?<=^)|(?<=[{_PUNCT}]))(?:亲爱的|亲亲|亲)(?=[{_PUNCT}]|$|[^戚自测人手身属朋友])"
)
_ADDRESS_TAIL = re.compile(rf"(?:亲爱的|亲亲|亲)(?=[{_PUNCT}]*$)")
_LAUGH = re.compile(r"(?:哈{2,}|呵{2,}|嘿{2,}|嘻{2,}|hh+|233+|嘤+)")
# Sentence-final particles when they end a clause. 吗/吧 are kept: they mark questions and
# suggestions; 么 at the end of a question is the same particle as 吗.
_FINAL_PARTICLE = re.compile(
    rf"(?:呢|哦|噢|喔|呀|啊|啦|嘛|哇|哈|咯|嘞|捏|鸭|哟|呐|么么哒)+(?=[{_PUNCT}]|$)"
)
_FINAL_ME = re.compile(rf"(?<=[^什怎那这多要])么(?=[{_PUNCT}]|$)")
# "能退不" / "包邮不": a final 不 after a verb or adjective asks a yes/no question like 吗.
_FINAL_BU = re.compile(rf"(?<=[^\s{_PUNCT[2:]}不要是对行好])不(?=[{_PUNCT}]|$)")
_INTERJECTION = re.compile(
    rf"(?:(?<=^)|(?<=[{_PUNCT}]))(?:嗯+|额+|呃+|唉+|哎+|诶+|emm+|em)(?=[{_PUNCT}]|$)"
)
_REPEAT_PUNCT = re.compile(r"([,.!?;:~、，。！？；：～…])[,.!?;:~、，。！？；：～…\s]*")
_SPACES = re.compile(r"\s+")


def strip_fillers(text: str) -> str:
    text = _LAUGH.sub(" ", text)
    text = _ADDRESS.sub("", text)
    text = _ADDRESS_TAIL.sub("", text)
    text = _INTERJECTION.sub("", text)
    text = _FINAL_ME.sub("吗", text)
    text = _FINAL_BU.sub("吗", text)
    text = _FINAL_PARTICLE.sub("", text)
    text = _REPEAT_PUNCT.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    return text.strip(" ,.;:~、，。；：～")


def normalize(text: str) -> str:
    """Canonical form of a shopper's message (see the module docstring for the steps)."""
    text = to_halfwidth(text)
    text = to_simplified(text)
    text = text.lower()
    text = strip_emoji(text)
    text = expand_shorthand(text)
    text = fix_homophones(text)
    text = strip_fillers(text)
    return text
