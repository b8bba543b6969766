"""FAQ retrieval: BM25 over words plus character bigrams, with a calibrated confidence.

How it works
------------
Every knowledge-base entry contributes one *document* per phrasing: its question and each of its
similar questions. `TextAnalyzer` turns a text into weighted terms:

* ``w:<word>``: jieba words after normalisation, stop-word removal and synonym mapping
  (邮费 → 运费); question words count 0.4; concept hints from the synonym table ("紧" → 尺码)
  are added as words of their own;
* ``c:<bigram>``: character bigrams inside words and next to one-character words, which rescue
  typos and segmentation differences and carry very short messages.

`Bm25Index` holds both fields as inverted lists in numpy arrays and scores a query against all
documents with one `np.bincount` per field, so a 10,000-entry knowledge base (≈30,000
documents) answers in well under a millisecond. An entry's score is its best document's.

Confidence
----------
Raw BM25 scores are not comparable between queries, so the confidence is built from ratios
that are:

* query coverage: the share of the query's IDF mass the best phrasing matches (unknown words
  count with the highest IDF, so "中通快递的客服电话" — with 电话 unknown to the shop — covers
  little); cut to 30 % when only question words and hints matched;
* margin: how far the best entry is ahead of the runner-up;
* document coverage (the share of the phrasing's IDF mass found in the query) is computed but
  carries no weight: the fit found it does not separate right from wrong.

They combine as ``sigmoid(a·q + b·d + c·margin + bias)``; the constants come from
`kefu.bot.calibrate` (leave-one-out phrasings of the knowledge base and a list of out-of-scope
chat), not from any evaluation set (see docs/bot.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kefu.nlp.normalize import normalize
from kefu.nlp.segment import Segmenter, get_segmenter, stopwords, weakwords
from kefu.nlp.synonyms import SynonymTable, default_synonyms

HINT_WEIGHT = 0.6
WEAK_WEIGHT = 0.4
CHAR_FIELD_WEIGHT = 0.5
# An answer matches a question less directly than a phrasing of the question does.
ANSWER_FACTOR = 0.5
# An entry whose several phrasings match is more likely right than one lucky phrasing.
SECOND_PHRASING_WEIGHT = 0.3
UNKNOWN_HINTED_WEIGHT = 0.4
COUNT_UNKNOWN_BIGRAMS = True
# Query coverage is scaled by this when only question words and hints matched.
WEAK_ONLY_FACTOR = 0.3

# Body measurements are sizing talk whatever words surround them: "170", "165cm", "52kg", "100斤".
_HEIGHT = re.compile(r"(?<!\d)1[4-9]\d(?!\d)(?:\s*(?:cm|厘米|公分))?")
_WEIGHT = re.compile(r"(?<!\d)\d{2,3}(?:\.\d)?\s*(?:斤|公斤|kg)")
_DIGITS = re.compile(r"\d+")
# Quantities ("两个", "三件", "一条") say how many, not what about.
_QUANTITY = re.compile(r"[\d一二两三四五六七八九十几多半每]+[个件条次天单双套条张只份箱包]")


@dataclass(frozen=True)
class Analysis:
    """A text prepared for matching."""

    normalized: str
    words: list[str]
    hints: list[str]
    terms: dict[str, float]
    # Word terms that produced a concept hint (see `FaqRetriever.search`).
    hinted: frozenset[str] = frozenset()


def _char_bigrams(words: Sequence[str]) -> list[str]:
    """Bigrams inside each word, and across a boundary next to a one-character word.

    Inside-word bigrams match a word that jieba split differently in the FAQ ("码数"/"码");
    a single character next to its neighbour is usually a segmentation accident ("退/货运费").
    Bigrams across two full words would mostly add noise.
    """
    out: list[str] = []
    for i, word in enumerate(words):
        if len(word) == 1:
            out.append("c:" + word)
        out.extend("c:" + word[j : j + 2] for j in range(len(word) - 1))
        if i + 1 < len(words) and (len(word) == 1 or len(words[i + 1]) == 1):
            out.append("c:" + word[-1] + words[i + 1][0])
    return out


class TextAnalyzer:
    """normalise → segment → drop stop words → synonyms → weighted terms."""

    def __init__(
        self, synonyms: SynonymTable | None = None, segmenter: Segmenter | None = None
    ) -> None:
        self.synonyms = synonyms or default_synonyms()
        self.segmenter = segmenter or get_segmenter()
        self._stop = stopwords()
        self._weak = weakwords()

    def analyze(self, text: str, *, normalized: str | None = None) -> Analysis:
        norm = normalize(text) if normalized is None else normalized
        tokens = self.segmenter.cut(norm)
        canon, hint_pairs = self.synonyms.apply(tokens)
        words = [w for w in canon if w not in self._stop and not _DIGITS.fullmatch(w)]
        if _HEIGHT.search(norm) or _WEIGHT.search(norm):
            hint_pairs = [*hint_pairs, ("尺码", "")]
        # Hints from a topic word count fully, hints from a question word ("几点") weakly.
        hint_weight: dict[str, float] = {}
        for hint, src in hint_pairs:
            if hint in words:
                continue
            weight = HINT_WEIGHT if src in self._weak else 1.0
            hint_weight[hint] = max(hint_weight.get(hint, 0.0), weight)
        terms: dict[str, float] = {}
        for w in words:
            weight = WEAK_WEIGHT if w in self._weak or _QUANTITY.fullmatch(w) else 1.0
            terms["w:" + w] = terms.get("w:" + w, 0.0) + weight
        for h, weight in hint_weight.items():
            terms["w:" + h] = terms.get("w:" + h, 0.0) + weight
        hinted = frozenset(src for _, src in hint_pairs if src)
        for key in _char_bigrams(
            [
                w
                for w in words
                if not w.isascii()
                and w not in self._weak
                and w not in hinted
                and not _QUANTITY.fullmatch(w)
            ]
        ):
            terms[key] = terms.get(key, 0.0) + 1.0
        hints = list(hint_weight)
        return Analysis(
            normalized=norm,
            words=words,
            hints=hints,
            terms=terms,
            hinted=frozenset("w:" + w for w in hinted),
        )


@dataclass
class _Field:
    vocab: dict[str, int]
    idf: np.ndarray
    # CSR-like postings: term id → slice of doc ids and precomputed BM25 term weights.
    starts: np.ndarray
    doc_ids: np.ndarray
    weights: np.ndarray
    unknown_idf: float


class Bm25Index:
    """BM25 over two fields (words, character bigrams) of many small documents."""

    def __init__(
        self,
        docs: Sequence[Mapping[str, float]],
        *,
        k1: float = 1.2,
        b: float = 0.5,
        char_weight: float = CHAR_FIELD_WEIGHT,
    ) -> None:
        self.n_docs = len(docs)
        self.k1, self.b, self.char_weight = k1, b, char_weight
        self.fields: dict[str, _Field] = {}
        self.doc_self = np.zeros(self.n_docs, dtype=np.float64)
        for prefix in ("w:", "c:"):
            self.fields[prefix] = self._build_field(docs, prefix)
        # A document's own IDF mass (for document coverage).
        for d, doc in enumerate(docs):
            total = 0.0
            for term in doc:
                f = self.fields[term[:2]]
                tid = f.vocab.get(term)
                if tid is not None:
                    total += float(f.idf[tid]) * self._fw(term[:2])
            self.doc_self[d] = total
        self._docs_terms = [frozenset(doc) for doc in docs]

    def _fw(self, prefix: str) -> float:
        return 1.0 if prefix == "w:" else self.char_weight

    def _build_field(self, docs: Sequence[Mapping[str, float]], prefix: str) -> _Field:
        vocab: dict[str, int] = {}
        postings: list[list[tuple[int, float]]] = []
        lengths = np.zeros(self.n_docs, dtype=np.float64)
        for d, doc in enumerate(docs):
            for term, tf in doc.items():
                if not term.startswith(prefix):
                    continue
                tid = vocab.setdefault(term, len(vocab))
                if tid == len(postings):
                    postings.append([])
                postings[tid].append((d, tf))
                lengths[d] += tf
        n = max(self.n_docs, 1)
        avgdl = float(lengths.mean()) if self.n_docs and lengths.sum() > 0 else 1.0
        df = np.array([len(p) for p in postings], dtype=np.float64)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)) if len(df) else np.zeros(0)
        starts = np.zeros(len(postings) + 1, dtype=np.int64)
        doc_ids_list: list[int] = []
        weights_list: list[float] = []
        for tid, plist in enumerate(postings):
            for d, tf in plist:
                norm = 1.0 - self.b + self.b * lengths[d] / avgdl
                weights_list.append(float(idf[tid]) * tf * (self.k1 + 1) / (tf + self.k1 * norm))
                doc_ids_list.append(d)
            starts[tid + 1] = len(doc_ids_list)
        unknown_idf = float(math.log(1.0 + (n - 0.5) / 1.5))
        return _Field(
            vocab=vocab,
            idf=idf,
            starts=starts,
            doc_ids=np.asarray(doc_ids_list, dtype=np.int64),
            weights=np.asarray(weights_list, dtype=np.float64),
            unknown_idf=unknown_idf,
        )

    def score(self, terms: Mapping[str, float]) -> tuple[np.ndarray, float]:
        """BM25 scores of every document, and the query's own IDF mass (for coverage)."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        query_mass = 0.0
        for prefix, f in self.fields.items():
            fw = self._fw(prefix)
            ids: list[np.ndarray] = []
            ws: list[np.ndarray] = []
            for term, qtf in terms.items():
                if not term.startswith(prefix):
                    continue
                tid = f.vocab.get(term)
                if tid is None:
                    # Unknown words already count against coverage in the word field; an
                    # unknown bigram would count the same miss twice.
                    if prefix == "w:" or COUNT_UNKNOWN_BIGRAMS:
                        query_mass += f.unknown_idf * fw * min(qtf, 1.0)
                    continue
                query_mass += float(f.idf[tid]) * fw * min(qtf, 1.0)
                lo, hi = f.starts[tid], f.starts[tid + 1]
                ids.append(f.doc_ids[lo:hi])
                ws.append(f.weights[lo:hi] * (fw * min(qtf, 1.0)))
            if ids:
                scores += np.bincount(
                    np.concatenate(ids), weights=np.concatenate(ws), minlength=self.n_docs
                )
        return scores, query_mass

    def contains_any(self, doc: int, terms: Iterable[str]) -> bool:
        doc_terms = self._docs_terms[doc]
        return any(t in doc_terms for t in terms)

    def matched_mass(self, doc: int, terms: Mapping[str, float]) -> float:
        """IDF mass of document `doc` that the query's terms cover."""
        total = 0.0
        doc_terms = self._docs_terms[doc]
        for term in terms:
            if term in doc_terms:
                f = self.fields[term[:2]]
                total += float(f.idf[f.vocab[term]]) * self._fw(term[:2])
        return total


@dataclass(frozen=True)
class FaqEntry:
    """One knowledge-base entry as the bot sees it."""

    id: str
    question: str
    similar: tuple[str, ...] = ()
    answer: str = ""
    category: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FaqEntry:
        similar = data.get("similar") or data.get("similar_questions") or ()
        if isinstance(similar, str):
            similar = [s for s in similar.splitlines() if s.strip()]
        return cls(
            id=str(data["id"]),
            question=str(data["question"]),
            similar=tuple(str(s) for s in similar),  # type: ignore[attr-defined]
            answer=str(data.get("answer", "")),
            category=str(data.get("category", "")),
        )

    def phrasings(self) -> list[str]:
        return [self.question, *self.similar]


@dataclass(frozen=True)
class FaqHit:
    entry: FaqEntry
    confidence: float
    score: float
    query_coverage: float
    doc_coverage: float
    matched: str


@dataclass
class Calibration:
    """Constants of the confidence function (see the module docstring)."""

    query_coverage: float = 5.3
    doc_coverage: float = 0.0
    margin: float = 0.46
    bias: float = -2.71

    def confidence(self, q: float, d: float, margin: float) -> float:
        z = self.query_coverage * q + self.doc_coverage * d + self.margin * margin + self.bias
        return 1.0 / (1.0 + math.exp(-z))


@dataclass
class FaqRetriever:
    """Searches a set of FAQ entries; build once, query many times (read-only, thread-safe)."""

    entries: list[FaqEntry]
    analyzer: TextAnalyzer
    calibration: Calibration = field(default_factory=Calibration)

    def __post_init__(self) -> None:
        docs: list[dict[str, float]] = []
        owners: list[int] = []
        factors: list[float] = []
        self._phrasing: list[str] = []
        for e_idx, entry in enumerate(self.entries):
            texts = [(t, 1.0) for t in entry.phrasings()]
            if entry.answer:
                texts.append((entry.answer, ANSWER_FACTOR))
            for text, factor in texts:
                terms = self.analyzer.analyze(text).terms
                if not terms:
                    continue
                docs.append(terms)
                owners.append(e_idx)
                factors.append(factor)
                self._phrasing.append(text)
        self._owner = np.asarray(owners, dtype=np.int64)
        self._factor = np.asarray(factors, dtype=np.float64)
        self.index = Bm25Index(docs)

    def search(self, query: str | Analysis, *, limit: int = 3) -> list[FaqHit]:
        analysis = query if isinstance(query, Analysis) else self.analyzer.analyze(query)
        terms = analysis.terms
        if analysis.hinted:
            # A hinted word the knowledge base never uses ("紧" in "会不会紧") has passed its
            # meaning to its hint (尺码); counting it fully as unmatched would bury the hint.
            vocab = self.index.fields["w:"].vocab
            terms = {
                t: (w * UNKNOWN_HINTED_WEIGHT if t in analysis.hinted and t not in vocab else w)
                for t, w in terms.items()
            }
        return self.search_terms(terms, limit=limit)

    def search_terms(self, terms: Mapping[str, float], *, limit: int = 3) -> list[FaqHit]:
        if not terms or self.index.n_docs == 0:
            return []
        raw, qmass = self.index.score(terms)
        if qmass <= 0:
            return []
        scores = raw * self._factor
        # Best and second-best document per entry among the top documents.
        candidates = min(len(scores), max(limit * 20, 60))
        top = np.argpartition(-scores, candidates - 1)[:candidates]
        top = top[np.argsort(-scores[top])]
        best: dict[int, tuple[int, float]] = {}
        for d in top:
            s = float(scores[d])
            if s <= 0:
                break
            owner = int(self._owner[d])
            if owner not in best:
                best[owner] = (int(d), s)
            else:
                doc, total = best[owner]
                if total == float(scores[doc]):  # only the first extra phrasing counts
                    best[owner] = (doc, total + SECOND_PHRASING_WEIGHT * s)
        if not best:
            return []
        ranked = sorted(best.items(), key=lambda item: -item[1][1])
        top_score = ranked[0][1][1]
        second = ranked[1][1][1] if len(ranked) > 1 else 0.0
        # Terms that name a topic: full-weight words and character bigrams. A match on question
        # words and concept hints alone ("现在几点了" ~ "几点有人工") is not a match.
        strong = [t for t, w in terms.items() if t.startswith("c:") or w >= 1.0]
        hits: list[FaqHit] = []
        for rank, (owner, (d, entry_score)) in enumerate(ranked[:limit]):
            q = min(float(scores[d]) / qmass, 1.0)
            if not self.index.contains_any(d, strong):
                q *= WEAK_ONLY_FACTOR
            dm = self.index.doc_self[d]
            dc = self.index.matched_mass(d, terms) / dm if dm > 0 else 0.0
            dc *= float(self._factor[d])
            other = second if rank == 0 else top_score
            margin = (entry_score - other) / top_score if top_score > 0 else 0.0
            hits.append(
                FaqHit(
                    entry=self.entries[owner],
                    confidence=self.calibration.confidence(q, dc, margin),
                    score=entry_score,
                    query_coverage=q,
                    doc_coverage=dc,
                    matched=self._phrasing[d],
                )
            )
        return hits


def load_entries(items: Iterable[Mapping[str, object]]) -> list[FaqEntry]:
    return [FaqEntry.from_dict(item) for item in items]
