"""Chinese sentiment: hashed character n-grams + logistic regression, numpy-only inference.

Model
-----
A text is normalised (full-width → half-width, traditional → simplified, lower case; emoji are
kept, they carry sentiment) and turned into the set of its character 1-, 2- and 3-grams plus
two kinds of negation features: the two characters after a negator (不/没/没有/别/无/未/非) are
also emitted as ``¬`` + n-gram, so "不好" and "不太好" share a feature; and words of a small
polarity lexicon (``sentiment_lexicon.txt``) emit "positive word", "negative word", "negated
positive" or "negated negative" markers (each counted MARK_COPIES times), so that "没有色差"
or "不失望" can be learnt as praise from the few examples there are. This helps in sentences;
a bare "没有色差" on its own still leans negative (see docs/bot.md). Each feature is hashed (a
fixed multiplicative hash of its code points, identical in training and inference, independent
of Python's hash seed) into ``2**BITS`` buckets. Features are binary and the vector is
L2-normalised. A logistic regression (scikit-learn, training only) gives one weight per bucket;
the shipped model is a compressed ``.npz``
(float16 weights + bias + metadata) in ``kefu/nlp/data/sentiment.npz``.

Labels
------
The training data is binary (positive / negative reviews), so *neutral* is a probability band:
``negative_prob`` in [NEUTRAL_LOW, NEUTRAL_HIGH] (0.35–0.65 by default) → ``neutral``; above →
``negative``; below → ``positive``. Plain questions and factual chat ("什么时候发货") land in
the band because neutral chat is in the training data with both labels (see Training).

Training
--------
`train_sentiment` reads the two CSV corpora (`label,review`), adds the hand-written e-commerce
sentences in ``kefu/nlp/data/sentiment_ecommerce.tsv`` (weighted, to move the model from hotels
and takeaway food towards shop reviews and chat; neutral chat questions are added with both
labels so that their words carry no polarity), splits deterministically (an MD5 of the text
decides the 10 % test part), fits, prints metrics and writes the model file.
``kefu nlp train-sentiment`` runs it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kefu.nlp.normalize import to_halfwidth, to_simplified

BITS = 18
NEUTRAL_LOW = 0.35
NEUTRAL_HIGH = 0.65
MODEL_FILE = "sentiment.npz"
ECOMMERCE_FILE = "sentiment_ecommerce.tsv"
LEXICON_FILE = "sentiment_lexicon.txt"
ECOMMERCE_WEIGHT = 3.0
TEST_PERCENT = 10
MARK_COPIES = 4  # a lexicon marker counts as this many features
MAX_CHARS = 512

Label = Literal["negative", "neutral", "positive"]

_NEGATOR_RE = re.compile("没有|不|没|别|无|未|非")
_NEG_CHAR = "\u00ac"  # "¬": prefixes the characters of a negation scope
_SPACE = re.compile(r"\s+")

# Odd 64-bit multipliers for the position of each code point in an n-gram (and the n-gram size).
_P = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)


@dataclass(frozen=True)
class SentimentResult:
    label: Label
    negative_prob: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "negative_prob": round(self.negative_prob, 4)}


def prepare(text: str) -> str:
    text = to_simplified(to_halfwidth(text or "")).lower()
    return _SPACE.sub(" ", text).strip()[:MAX_CHARS]


def _negation_scopes(text: str) -> list[str]:
    """The two characters after each negator ("不太好" → "太好"), as extra n-gram sources."""
    return [text[m.end() : m.end() + 2] for m in _NEGATOR_RE.finditer(text) if m.end() < len(text)]


@lru_cache(maxsize=1)
def _lexicon() -> tuple[re.Pattern[str], dict[str, int]]:
    text = (resources.files("kefu.nlp") / "data" / LEXICON_FILE).read_text(encoding="utf-8")
    polarity: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith(("+ ", "- ")):
            polarity[line[2:].strip()] = 1 if line[0] == "+" else -1
    words = sorted(polarity, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)), polarity


_SCOPE_END = re.compile(r"[,.!?;:~，。！？；：～、\s]")
# Marker features: (negated?, polarity) → a reserved code hashed like a one-character n-gram.
_LEXICON_MARK = {(False, 1): 0xE001, (False, -1): 0xE002, (True, 1): 0xE003, (True, -1): 0xE004}


def _lexicon_marks(text: str) -> list[int]:
    """Polar words, and whether a negator governs them ("没有色差" → negated negative)."""
    pattern, polarity = _lexicon()
    scopes: list[tuple[int, int]] = []
    for m in _NEGATOR_RE.finditer(text):
        if text.startswith(("不错", "没事", "无论"), m.start()):
            continue
        stop = _SCOPE_END.search(text, m.end())
        scopes.append((m.end(), min(m.end() + 4, stop.start() if stop else len(text))))
    marks: set[int] = set()
    for match in pattern.finditer(text):
        word, start = match.group(0), match.start()
        # "不好"/"不值" are lexicon words themselves: count them as plain negatives.
        negated = not word.startswith("不") and any(lo <= start < hi for lo, hi in scopes)
        marks.add(_LEXICON_MARK[(negated, polarity[word])])
    return sorted(marks)


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


_MASK64 = (1 << 64) - 1
_SIZE_SALT = [np.uint64((size * int(_P[3])) & _MASK64) for size in (0, 1, 2, 3)]


def _hash_ngrams(cps: np.ndarray) -> np.ndarray:
    """Bucket ids of all 1-, 2-, 3-grams of a code-point array; n-grams containing a 0 (the
    separator between the text and its extra feature strings) are dropped. uint64 array
    arithmetic wraps around, which is what a multiplicative hash wants."""
    parts: list[np.ndarray] = []
    n = len(cps)
    is_sep = cps == 0
    for size in (1, 2, 3):
        if n < size:
            break
        m = n - size + 1
        h = np.full(m, _SIZE_SALT[size], dtype=np.uint64)
        bad = np.zeros(m, dtype=bool)
        for k in range(size):
            h += cps[k : m + k] * _P[k]
            bad |= is_sep[k : m + k]
        parts.append(h[~bad])
    if not parts:
        return np.zeros(0, dtype=np.int64)
    h = np.concatenate(parts)
    h ^= h >> np.uint64(29)
    h *= _P[1]
    return (h >> np.uint64(64 - BITS)).astype(np.int64)


def featurize(text: str) -> np.ndarray:
    """Sorted unique bucket ids of a prepared text.

    The text's own n-grams, then — after a separator — each negation scope as "¬" + two
    characters (giving "¬太", "¬太好" …) and each lexicon marker as a private-use character,
    repeated MARK_COPIES times under different salts so that it weighs like several n-grams,
    all hashed in one pass.
    """
    extra = "".join(f"\x00{_NEG_CHAR}{scope}" for scope in _negation_scopes(text))
    for mark in _lexicon_marks(text):
        extra += "".join(f"\x00{chr(mark + 0x100 * k)}" for k in range(MARK_COPIES))
    return np.unique(_hash_ngrams(_codepoints(text + extra)))


def feature_matrix(texts: Sequence[str]) -> Any:
    """A scipy CSR matrix of L2-normalised binary features (training and evaluation)."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for text in texts:
        ids = featurize(prepare(text))
        indices.append(ids)
        values.append(np.full(len(ids), 1.0 / np.sqrt(max(len(ids), 1))))
        indptr.append(indptr[-1] + len(ids))
    return csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
            np.asarray(indptr),
        ),
        shape=(len(texts), 1 << BITS),
    )


class SentimentModel:
    """Weights per hashed feature; `predict` is pure numpy."""

    def __init__(self, weights: np.ndarray, bias: float, meta: dict[str, Any] | None = None):
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        if path is None:
            data = (resources.files("kefu.nlp") / "data" / MODEL_FILE).read_bytes()
            npz = np.load(io.BytesIO(data))
        else:
            npz = np.load(Path(path))
        meta = json.loads(str(npz["meta"])) if "meta" in npz else {}
        return cls(npz["weights"], float(npz["bias"]), meta)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            Path(path),
            weights=self.weights.astype(np.float16),
            bias=np.float64(self.bias),
            meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
        )

    def negative_probs(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty(len(texts), dtype=np.float64)
        w = self.weights
        for i, text in enumerate(texts):
            ids = featurize(prepare(text))
            if not len(ids):
                out[i] = 0.5
                continue
            z = float(w[ids].sum()) / np.sqrt(len(ids)) + self.bias
            # The model predicts "positive" (label 1 in the corpora).
            out[i] = 1.0 / (1.0 + np.exp(z))
        return out

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        return [_result(float(p)) for p in self.negative_probs(texts)]


def _result(negative_prob: float) -> SentimentResult:
    if negative_prob > NEUTRAL_HIGH:
        label: Label = "negative"
    elif negative_prob < NEUTRAL_LOW:
        label = "positive"
    else:
        label = "neutral"
    return SentimentResult(label=label, negative_prob=negative_prob)


_model: SentimentModel | None = None
_model_lock = threading.Lock()


def get_model() -> SentimentModel:
    """The shipped model, loaded once per process."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = SentimentModel.load()
    return _model


def predict_sentiment(texts: Iterable[str]) -> list[SentimentResult]:
    """Sentiment of each text with the shipped model (empty text → neutral)."""
    items = list(texts)
    model = get_model()
    results = model.predict(items)
    return [
        r if (t or "").strip() else SentimentResult("neutral", 0.5)
        for t, r in zip(items, results, strict=True)
    ]


# --- training -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 positive, 0 negative
    weight: float = 1.0
    source: str = ""


def read_corpus(path: str | Path) -> list[Example]:
    """A `label,review` CSV (1 positive, 0 negative); rows without text are skipped."""
    out: list[Example] = []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (row.get("review") or "").strip()
            label = (row.get("label") or "").strip()
            if text and label in ("0", "1"):
                out.append(Example(text, int(label), 1.0, Path(path).stem))
    return out


def ecommerce_examples() -> list[Example]:
    """Hand-written shop review / chat sentences (`label<TAB>text`), see the data file."""
    text = (resources.files("kefu.nlp") / "data" / ECOMMERCE_FILE).read_text(encoding="utf-8")
    out: list[Example] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, _, sentence = line.partition("\t")
        sentence = sentence.strip()
        if label == "n":  # neutral: both labels, so its features learn no polarity
            out.append(Example(sentence, 1, ECOMMERCE_WEIGHT, "neutral"))
            out.append(Example(sentence, 0, ECOMMERCE_WEIGHT, "neutral"))
        else:
            out.append(Example(sentence, int(label), ECOMMERCE_WEIGHT, "ecommerce"))
    return out


def is_test(text: str) -> bool:
    """Deterministic held-out split: about TEST_PERCENT % of texts, chosen by MD5."""
    digest = hashlib.md5(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < TEST_PERCENT


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    # Neutral sentences carry both labels; they only ever train, never score.
    train = [e for e in examples if e.source == "neutral" or not is_test(e.text)]
    test = [e for e in examples if e.source != "neutral" and is_test(e.text)]
    return train, test


@dataclass(frozen=True)
class Metrics:
    n: int
    accuracy: float
    negative_f1: float

    def to_dict(self) -> dict[str, float]:
        return {"n": self.n, "accuracy": self.accuracy, "negative_f1": self.negative_f1}


def metrics(y_true: Sequence[int], negative_prob: Sequence[float] | np.ndarray) -> Metrics:
    """Binary metrics; a text is predicted negative when negative_prob > 0.5."""
    yt = np.asarray(y_true)
    pred_neg = np.asarray(negative_prob) > 0.5
    true_neg = yt == 0
    tp = int(np.sum(pred_neg & true_neg))
    fp = int(np.sum(pred_neg & ~true_neg))
    fn = int(np.sum(~pred_neg & true_neg))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    accuracy = float(np.mean(pred_neg == true_neg)) if len(yt) else 0.0
    return Metrics(len(yt), round(accuracy, 4), round(f1, 4))


def fit(examples: Sequence[Example], c: float = 4.0) -> SentimentModel:
    from sklearn.linear_model import LogisticRegression

    x = feature_matrix([e.text for e in examples])
    y = np.asarray([e.label for e in examples])
    w = np.asarray([e.weight for e in examples])
    clf = LogisticRegression(C=c, max_iter=2000, solver="liblinear")
    clf.fit(x, y, sample_weight=w)
    return SentimentModel(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))


def train_sentiment(
    corpus_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    include_ecommerce: bool = True,
    c: float = 4.0,
    limit: int | None = None,
) -> dict[str, Any]:
    """Train on the corpora, evaluate on the held-out split, write the model; returns metrics.

    `limit` keeps only the first N examples of each corpus (for quick tests).
    """
    examples: list[Example] = []
    for path in corpus_paths:
        rows = read_corpus(path)
        examples.extend(rows[:limit] if limit else rows)
    if include_ecommerce:
        examples.extend(ecommerce_examples())
    train, test = split(examples)
    if not train or len({e.label for e in train}) < 2:
        raise ValueError("训练数据需要同时包含正面和负面样本 / training data needs both labels")
    model = fit(train, c=c)
    result: dict[str, Any] = {"train": len(train), "test": len(test)}
    if test:
        result["test_metrics"] = metrics(
            [e.label for e in test], model.negative_probs([e.text for e in test])
        ).to_dict()
        for source in sorted({e.source for e in test}):
            part = [e for e in test if e.source == source]
            result[f"test_{source}"] = metrics(
                [e.label for e in part], model.negative_probs([e.text for e in part])
            ).to_dict()
    model.meta = {
        "bits": BITS,
        "c": c,
        "neutral_band": [NEUTRAL_LOW, NEUTRAL_HIGH],
        "corpora": [Path(p).name for p in corpus_paths],
        "ecommerce_examples": include_ecommerce,
        **{k: v for k, v in result.items()},
    }
    model.save(out_path)
    return result


def default_model_path() -> Path:
    return Path(str(resources.files("kefu.nlp") / "data" / MODEL_FILE))
