"""The bot's learning queue (待学习问题): what customers asked that the bot could not answer well.

A message joins the queue when the bot did not understand it (`none`; also when it then
handed over, after too many misses or on the customer's mood), only offered suggestions
(`suggested`), answered a FAQ below `LOW_CONFIDENCE`, or when the customer rated the answer
没帮助 (kefu/bot/rating.py) — and nobody has reviewed it yet. The queue reads `bot_turns`; no
table of its own.

Messages are grouped so that twenty ways of asking "发票怎么开" are one line of work:
identical normalised texts first, then greedily, most-asked first, into the group whose
centroid is most alike (a phrasing alike to two similar groups joins them). Alike is the cosine
over the bot's own analysis (jieba words after stop words and synonyms, so 邮费 and 运费 meet;
question words weigh little) plus character bigrams of the normalised text (robust to
segmentation). One greedy pass is O(messages × groups), fine for the `MAX_MESSAGES` newest
messages of a period; it needs no model and no new dependency.

Each group shows the bot's best guess now: the store's current pipeline (the same cached one
the live bot uses) is asked again, so a group the knowledge base has learnt meanwhile says so.

Reviewing writes a marker on each `BotTurn` (`review`, `reviewed_at`, `review_faq_id`) and an
audit entry: "similar" adds the messages as similar questions of an entry through the
knowledge service (which versions and audits the entry and so changes the knowledge
fingerprint: the live bot answers from the next message on), "new_faq" records that a new
entry was written from them (the FAQ form posts back), "ignored" drops them. Marking skips
messages already reviewed, so a double submit changes nothing.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.knowledge_cache import pipeline_for
from kefu.bot.models import BotTurn
from kefu.bot.pipeline import Thresholds
from kefu.bot.retrieval import TextAnalyzer
from kefu.bot.settings import bot_settings
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Invalid, NotFound
from kefu.knowledge import service as knowledge
from kefu.knowledge.schemas import MAX_SIMILAR, FaqIn
from kefu.nlp.normalize import normalize
from kefu.store.models import Store

# An FAQ answered with less confidence than this is worth a look (the answer threshold is
# 0.6 by default: answers just above it are the likeliest to be wrong).
LOW_CONFIDENCE = 0.75
SIMILARITY = 0.45  # cosine; 退货运费谁出 ~ 退货的邮费谁来出 0.95, 积分怎么用 ~ 积分可以抵现吗 0.6
RAW_BIGRAM_WEIGHT = 0.3
MERGE_SIMILARITY = 0.3  # two groups a phrasing bridges must also be alike as a whole
MAX_MESSAGES = 2000
MAX_PREFILL_SIMILAR = 20
MAX_QUESTION_CHARS = 300  # FaqIn's limit; longer messages are not useful phrasings
# Below this the top FAQ hit shares only a question word or two: no guess is better.
GUESS_FLOOR = 0.2
# FAQ entries scoped to channels are looked up as for the web widget.
GUESS_CHANNEL = "web"

REVIEW_SIMILAR, REVIEW_NEW_FAQ, REVIEW_IGNORED = "similar", "new_faq", "ignored"
REASONS = ("none", "suggested", "low", "unhelpful")


@dataclass
class QueuedQuestion:
    """One distinct text in the queue and every message that said it."""

    text: str
    normalized: str
    turn_ids: list[int] = field(default_factory=list)
    last_seen: datetime | None = None
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class FaqGuess:
    faq_id: int
    question: str
    confidence: float


@dataclass
class QuestionGroup:
    questions: list[QueuedQuestion]
    guess: FaqGuess | None = None
    # The bot would now answer the group's main question on its own (knowledge changed).
    answered_now: bool = False

    @property
    def title(self) -> str:
        return self.questions[0].text

    @property
    def count(self) -> int:
        return sum(len(q.turn_ids) for q in self.questions)

    @property
    def turn_ids(self) -> list[int]:
        return sorted(i for q in self.questions for i in q.turn_ids)

    @property
    def last_seen(self) -> datetime | None:
        return max((q.last_seen for q in self.questions if q.last_seen), default=None)

    @property
    def reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for q in self.questions:
            total.update(q.reasons)
        return total


# --------------------------------------------------------------------------- the queue


def _reason(outcome: str, confidence: float, rating: int | None) -> str:
    if rating is not None and rating < 0:
        return "unhelpful"
    if outcome == "answered":
        return "low"
    if outcome == "handoff":  # not understood, and handed over (mood, too many misses …)
        return "none"
    return outcome  # none | suggested


def _in_queue(low_confidence: float) -> ColumnElement[bool]:
    return or_(
        BotTurn.outcome.in_(("none", "suggested")),
        and_(BotTurn.outcome == "handoff", BotTurn.label == "none"),
        and_(
            BotTurn.outcome == "answered",
            BotTurn.label.like("faq:%"),
            BotTurn.confidence < low_confidence,
        ),
        BotTurn.rating < 0,
    )


async def learning_queue(
    session: AsyncSession,
    store_id: int,
    since: datetime,
    until: datetime,
    *,
    low_confidence: float = LOW_CONFIDENCE,
) -> list[QuestionGroup]:
    """The store's unreviewed questions asked in [since, until), grouped, most asked first."""
    rows = (
        await session.execute(
            select(
                BotTurn.id,
                BotTurn.text,
                BotTurn.normalized,
                BotTurn.outcome,
                BotTurn.confidence,
                BotTurn.rating,
                BotTurn.created_at,
            )
            .where(
                BotTurn.store_id == store_id,
                BotTurn.created_at >= since,
                BotTurn.created_at < until,
                BotTurn.reviewed_at.is_(None),
                BotTurn.text != "",
                _in_queue(low_confidence),
            )
            .order_by(BotTurn.created_at.desc(), BotTurn.id.desc())
            .limit(MAX_MESSAGES)
        )
    ).all()
    distinct: dict[str, QueuedQuestion] = {}
    for turn_id, text, normalized, outcome, confidence, rating, created_at in rows:
        norm = normalized or normalize(text)
        question = distinct.get(norm)
        if question is None:
            question = distinct[norm] = QueuedQuestion(_clean(text), norm)
        question.turn_ids.append(turn_id)
        question.last_seen = question.last_seen or created_at  # rows come newest first
        question.reasons[_reason(outcome, confidence, rating)] += 1
    groups = await asyncio.to_thread(cluster_questions, list(distinct.values()))
    await _add_guesses(session, store_id, groups)
    return groups


@lru_cache(maxsize=1)
def _analyzer() -> TextAnalyzer:
    return TextAnalyzer()


_NOT_TEXT = re.compile(r"[\W_]+")
Features = dict[str, float]


def question_features(normalized: str) -> Features:
    """The terms the bot's retrieval weighs (words after stop words and synonyms, question
    words down-weighted, bigrams inside content words) plus, lightly, every character bigram
    of the normalised text (robust to a segmentation that differs between two phrasings)."""
    features = dict(_analyzer().analyze("", normalized=normalized).terms)
    compact = _NOT_TEXT.sub("", normalized)
    for i in range(len(compact) - 1):
        key = "g:" + compact[i : i + 2]
        features[key] = features.get(key, 0.0) + RAW_BIGRAM_WEIGHT
    return features


def similarity(a: Features, b: Features) -> float:
    """Cosine of two weighted term sets."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(term, 0.0) for term, w in a.items())
    norm = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def _add_into(total: Features, features: Features) -> None:
    """Add a unit-length copy of `features` to a group's centroid (every phrasing counts
    once, however long)."""
    norm = math.sqrt(sum(w * w for w in features.values())) or 1.0
    for term, weight in features.items():
        total[term] = total.get(term, 0.0) + weight / norm


def cluster_questions(
    questions: Sequence[QueuedQuestion], threshold: float = SIMILARITY
) -> list[QuestionGroup]:
    """Greedy grouping, most-asked phrasing first (it becomes its group's title). A phrasing
    joins the group whose centroid (sum of its phrasings) it is most alike to; comparing with
    the centroid rather than with any member keeps a group from drifting one neighbour at a
    time. A phrasing alike to two groups that are also alike as a whole joins them: "怎么开发票"
    bridges "发票怎么开" and "能开发票吗", which jieba segments differently."""
    ordered = sorted(
        questions,
        key=lambda q: (-len(q.turn_ids), -(q.last_seen.timestamp() if q.last_seen else 0)),
    )
    clusters: list[tuple[Features, QuestionGroup]] = []
    for question in ordered:
        features = question_features(question.normalized)
        scored = [(similarity(features, centroid), n) for n, (centroid, _) in enumerate(clusters)]
        matches = [n for score, n in sorted(scored, reverse=True) if score >= threshold]
        if not matches:
            centroid: Features = {}
            _add_into(centroid, features)
            clusters.append((centroid, QuestionGroup([question])))
            continue
        centroid, group = clusters[matches[0]]
        merged: list[int] = []
        for n in matches[1:]:
            other_centroid, other = clusters[n]
            if similarity(centroid, other_centroid) >= MERGE_SIMILARITY:
                group.questions.extend(other.questions)
                for term, weight in other_centroid.items():
                    centroid[term] = centroid.get(term, 0.0) + weight
                merged.append(n)
        group.questions.append(question)
        _add_into(centroid, features)
        clusters = [c for n, c in enumerate(clusters) if n not in merged]
    groups = [group for _, group in clusters]
    for group in groups:
        group.questions.sort(key=lambda q: -len(q.turn_ids))
    groups.sort(key=lambda g: (-g.count, -(g.last_seen.timestamp() if g.last_seen else 0)))
    return groups


async def _add_guesses(session: AsyncSession, store_id: int, groups: list[QuestionGroup]) -> None:
    """The bot's best FAQ for each group with today's knowledge (the live bot's pipeline)."""
    store = await session.get(Store, store_id)
    if store is None or not groups:
        return
    settings = bot_settings(store)
    thresholds = Thresholds(answer=settings.answer_threshold, suggest=settings.suggest_threshold)
    pipeline, faq_ids = await pipeline_for(session, store_id, GUESS_CHANNEL, thresholds)
    for group in groups:
        understood = pipeline.understand(group.title)
        hit = understood.suggestions[0] if understood.suggestions else None
        faq_id = faq_ids.get(hit.entry.id) if hit is not None else None
        if hit is not None and faq_id is not None and hit.confidence >= GUESS_FLOOR:
            group.guess = FaqGuess(faq_id, hit.entry.question, round(hit.confidence, 2))
        group.answered_now = understood.action == "answer" and understood.faq is not None


# --------------------------------------------------------------------------- reviewing


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_turn_ids(values: Iterable[str]) -> list[int]:
    """Form values such as "12,15" (one per distinct text) → ids; anything else is ignored."""
    ids: set[int] = set()
    for value in values:
        ids.update(int(p) for p in str(value).split(",") if p.strip().isdigit())
    return sorted(ids)


async def _open_turns(
    session: AsyncSession, turn_ids: Sequence[int], store_id: int | None
) -> list[BotTurn]:
    """The chosen messages not reviewed yet (locked: two reviewers do not both act)."""
    if not turn_ids:
        raise Invalid("请至少选择一条消息", "Select at least one message")
    stmt = select(BotTurn).where(BotTurn.id.in_(turn_ids), BotTurn.reviewed_at.is_(None))
    if store_id is not None:
        stmt = stmt.where(BotTurn.store_id == store_id)
    return list(await session.scalars(stmt.order_by(BotTurn.id).with_for_update()))


def _mark(turns: Iterable[BotTurn], review: str, faq_id: int | None) -> list[int]:
    now = utcnow()
    ids = []
    for turn in turns:
        turn.reviewed_at, turn.review, turn.review_faq_id = now, review, faq_id
        ids.append(turn.id)
    return ids


@dataclass(frozen=True)
class SimilarAdded:
    faq_id: int
    added: list[str]
    messages: int


async def add_as_similar(
    session: AsyncSession, actor: Actor, store_id: int, turn_ids: Sequence[int], faq_id: int
) -> SimilarAdded:
    """Add the messages' texts to entry `faq_id` as similar questions; mark them reviewed."""
    faq = await knowledge.get_faq(session, faq_id)
    store_ids = (await knowledge.faq_store_ids(session, [faq.id]))[faq.id]
    if not faq.all_stores and store_id not in store_ids:
        raise Invalid(
            "该问答不适用于这个店铺，加为相似问法后机器人也不会用它回答，请选择其他问答",
            "This entry does not apply to this store, so the bot would still not answer "
            "with it; choose another entry",
        )
    turns = await _open_turns(session, turn_ids, store_id)
    if not turns:
        return SimilarAdded(faq.id, [], 0)
    known = {faq.question, *(faq.similar or [])}
    added: list[str] = []
    for turn in turns:
        text = _clean(turn.text)
        if text and len(text) <= MAX_QUESTION_CHARS and text not in known and text not in added:
            added.append(text)
    if added:
        try:
            data = FaqIn(
                external_id=faq.external_id,
                question=faq.question,
                similar=[*(faq.similar or []), *added],
                answer=faq.answer,
                category=faq.category,
                all_stores=faq.all_stores,
                store_ids=store_ids,
                channels=faq.channels,
                valid_from=faq.valid_from,
                valid_until=faq.valid_until,
                enabled=faq.enabled,
            )
        except ValidationError as exc:
            raise Invalid(
                f"该问答的相似问题将超过 {MAX_SIMILAR} 条，请先整理后再添加，或新建问答",
                f"This entry would have more than {MAX_SIMILAR} similar questions; tidy it "
                "first or write a new entry",
            ) from exc
        await knowledge.update_faq(session, actor, faq.id, data)
    ids = _mark(turns, REVIEW_SIMILAR, faq.id)
    await record_audit(
        session,
        actor,
        "bot.learning.similar",
        "faq",
        faq.id,
        after={"turn_ids": ids, "added": added},
        store_id=store_id,
    )
    await session.flush()
    return SimilarAdded(faq.id, added, len(ids))


async def ignore_questions(
    session: AsyncSession, actor: Actor, store_id: int, turn_ids: Sequence[int]
) -> int:
    """Drop the messages from the queue (chit-chat, nonsense, handled elsewhere)."""
    turns = await _open_turns(session, turn_ids, store_id)
    if not turns:
        return 0
    ids = _mark(turns, REVIEW_IGNORED, None)
    await record_audit(
        session,
        actor,
        "bot.learning.ignore",
        "store",
        store_id,
        after={"turn_ids": ids},
        store_id=store_id,
    )
    await session.flush()
    return len(ids)


@dataclass(frozen=True)
class FaqDraft:
    question: str
    similar: list[str]
    turn_ids: list[int]


async def draft_new_faq(session: AsyncSession, store_id: int, turn_ids: Sequence[int]) -> FaqDraft:
    """What the FAQ form opens with: the most asked text as the question, the others as
    similar questions."""
    turns = await _open_turns(session, turn_ids, store_id)
    if not turns:
        raise NotFound(
            "这些消息已经处理过了，请刷新待学习问题", "These messages were already reviewed"
        )
    counts = Counter(
        t for t in (_clean(turn.text) for turn in turns) if 0 < len(t) <= MAX_QUESTION_CHARS
    )
    if not counts:
        raise Invalid("所选消息太长，不适合作为问题", "The chosen messages are too long")
    texts = [text for text, _ in counts.most_common()]
    return FaqDraft(texts[0], texts[1 : 1 + MAX_PREFILL_SIMILAR], [t.id for t in turns])


async def record_new_faq(
    session: AsyncSession, actor: Actor, faq_id: int, turn_ids: Sequence[int]
) -> int:
    """The FAQ form saved a new entry written from these messages: they leave the queue."""
    if not turn_ids:
        return 0
    turns = await _open_turns(session, turn_ids, None)
    if not turns:
        return 0
    ids = _mark(turns, REVIEW_NEW_FAQ, faq_id)
    await record_audit(
        session,
        actor,
        "bot.learning.new_faq",
        "faq",
        faq_id,
        after={"turn_ids": ids},
        store_id=turns[0].store_id,
    )
    await session.flush()
    return len(ids)
