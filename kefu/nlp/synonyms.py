"""Synonym table: many ways of saying one thing map to one canonical word.

A table has two kinds of line (see `kefu/nlp/data/synonyms.txt`, the shipped default):

    尺码 = 码 码数 号      replace: each word on the right becomes 尺码
    尺码 + 紧 松 偏大      hint: the word stays and 尺码 is added beside it
    修改_地址 = 换地址     a canonical form joined by "_" stands for several words

Replacements make "邮费" and "运费" the same term for retrieval; hints let indirect phrasing
("我170穿着会不会紧") reach the concept it is about. Entries may be phrases of several jieba
tokens ("退的钱", "谁出"): `apply` matches the longest run of up to `MAX_PHRASE_TOKENS` tokens.
A shop's own table is merged over the default with `SynonymTable.merged`; for a word listed in
both, the shop's line wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

MAX_PHRASE_TOKENS = 4


class SynonymTableError(ValueError):
    """A line of a synonym table cannot be parsed."""


@dataclass
class SynonymTable:
    replace: dict[str, str] = field(default_factory=dict)
    hints: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SynonymTable:
        table = cls()
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) < 3 or parts[1] not in ("=", "+"):
                raise SynonymTableError(
                    f"第 {number} 行格式错误，应为“词 = 同义词 …”或“词 + 相关词 …” / "
                    f"line {number}: expected 'word = synonyms …' or 'word + related words …'"
                )
            canonical, kind, words = parts[0].lower(), parts[1], [w.lower() for w in parts[2:]]
            for word in words:
                if kind == "=":
                    if word != canonical:
                        table.replace[word] = canonical
                else:
                    targets = table.hints.setdefault(word, [])
                    if canonical not in targets:
                        targets.append(canonical)
        return table

    @classmethod
    def from_file(cls, path: str | Path) -> SynonymTable:
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    def merged(self, other: SynonymTable) -> SynonymTable:
        """This table with `other` (a shop's table) applied on top."""
        replace = {**self.replace, **other.replace}
        hints = {k: list(v) for k, v in self.hints.items()}
        for word, targets in other.hints.items():
            hints[word] = list(targets)
        # A shop turning a word into a replacement drops the default hint for it, and vice versa.
        for word in other.replace:
            if word not in other.hints:
                hints.pop(word, None)
        for word in other.hints:
            if word not in other.replace:
                replace.pop(word, None)
        return SynonymTable(replace=replace, hints=hints)

    def canonical(self, word: str) -> str:
        return self.replace.get(word, word)

    @property
    def phrases(self) -> frozenset[str]:
        return frozenset(self.replace) | frozenset(self.hints)

    def apply(self, tokens: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """Map tokens to canonical words.

        Returns the canonical tokens and the hints as (hint word, canonical word that produced
        it) pairs. Phrases of several tokens are matched longest first; a matched phrase
        becomes one token (or several, for a canonical form joined by "_").
        """
        known = self._known_phrases()
        out: list[str] = []
        hints: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        i = 0
        n = len(tokens)
        while i < n:
            matched = 1
            word = tokens[i]
            for size in range(min(MAX_PHRASE_TOKENS, n - i), 1, -1):
                candidate = "".join(tokens[i : i + size])
                if candidate in known:
                    matched, word = size, candidate
                    break
            canon = self.replace.get(word, word)
            # A canonical form written with "_" stands for several words (修改_地址).
            out.extend(canon.split("_") if "_" in canon else (canon,))
            for source in (word, canon) if canon != word else (word,):
                for hint in self.hints.get(source, ()):
                    if hint != canon and (hint, canon) not in seen:
                        seen.add((hint, canon))
                        hints.append((hint, canon))
            i += matched
        return out, hints

    def _known_phrases(self) -> frozenset[str]:
        cached: frozenset[str] | None = getattr(self, "_phrase_cache", None)
        if cached is None:
            cached = frozenset(w for w in self.phrases if len(w) > 1)
            object.__setattr__(self, "_phrase_cache", cached)
        return cached

    def words(self) -> Iterable[str]:
        """Every word the table mentions (to add to the segmenter's dictionary)."""
        yield from self.replace
        yield from self.replace.values()
        yield from self.hints
        for targets in self.hints.values():
            yield from targets


@lru_cache(maxsize=1)
def default_synonyms() -> SynonymTable:
    text = (resources.files("kefu.nlp") / "data" / "synonyms.txt").read_text(encoding="utf-8")
    return SynonymTable.parse(text)
