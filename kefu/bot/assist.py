"""Agent assist (智能辅助): what the knowledge base and the canned replies suggest for the
customer's latest message in a conversation an agent is serving.

The FAQ side is the live bot's own understanding: the store's cached `BotPipeline`
(`knowledge_cache.pipeline_for`, keyed by the same thresholds as the bot so both share one
index) and its top three hits, so an agent sees what the bot would have offered. Canned
replies are few and much alike (a BM25 index over thirty "退货…" replies learns that 退货 means
nothing), so each reply is analysed once with the pipeline's analyzer (same normalisation,
segmentation and synonyms) and scored by how much of the message's weight it covers, each
word weighted by its IDF in the shop's knowledge base. The analysed replies are cached per
process and rebuilt when a fingerprint of the store's replies (count, id sum, newest update;
one aggregate query) changes, like the FAQ cache. The cache holds every active reply of the
store, personal ones included; the caller's visibility is applied when scoring, so nobody is
offered another agent's personal reply.

Suggested replies are filled in for the conversation's customer with the same variables as
the composer's "/" picker (`canned_service.render_context`). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal
from kefu.bot.knowledge_cache import pipeline_for
from kefu.bot.pipeline import BotPipeline, Thresholds
from kefu.bot.settings import bot_settings
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import NotFound
from kefu.knowledge import canned_service
from kefu.knowledge.canned_models import CannedReply
from kefu.store.models import Store

TOP_N = 3
# Below these an entry shares little more than a question word with the message; showing it
# would teach agents to ignore the panel.
FAQ_FLOOR = 0.2
CANNED_FLOOR = 0.3
# A word found only in a reply's body counts this much of one found in its title.
BODY_MATCH = 0.7


@dataclass(frozen=True)
class FaqSuggestion:
    faq_id: int | None
    key: str
    question: str
    answer: str
    confidence: float


@dataclass(frozen=True)
class CannedSuggestion:
    id: int
    title: str
    shortcut: str
    text: str  # the body with the conversation's variables filled in
    confidence: float


@dataclass(frozen=True)
class Assist:
    conversation_id: int
    message_id: int | None
    message: str
    label: str  # what the bot's pipeline understood: faq:<key> | intent:<name> | none
    answers: list[FaqSuggestion]
    canned: list[CannedSuggestion]


@dataclass(frozen=True)
class _IndexedReply:
    id: int
    owner_id: int | None
    title_terms: frozenset[str]
    body_terms: frozenset[str]


@dataclass
class _CannedIndex:
    fingerprint: tuple[Any, ...]
    pipeline: BotPipeline  # the analyzer's owner; a rebuilt pipeline means a rebuilt index
    replies: list[_IndexedReply]


# Keyed like the pipelines (store, channel, thresholds): each index uses one pipeline's analyzer.
_canned_indexes: dict[tuple[int, str, Thresholds], _CannedIndex] = {}


def _store_replies(store_id: int) -> Any:
    return (
        CannedReply.is_active.is_(True),
        or_(CannedReply.store_id.is_(None), CannedReply.store_id == store_id),
    )


async def _canned_fingerprint(session: AsyncSession, store_id: int) -> tuple[Any, ...]:
    row = (
        await session.execute(
            select(
                func.count(CannedReply.id),
                func.sum(CannedReply.id),
                func.max(CannedReply.updated_at),
            ).where(*_store_replies(store_id))
        )
    ).one()
    updated = row[2].isoformat() if isinstance(row[2], datetime) else str(row[2])
    return int(row[0] or 0), int(row[1] or 0), updated


async def _canned_index(
    session: AsyncSession, key: tuple[int, str, Thresholds], pipeline: BotPipeline
) -> _CannedIndex:
    fingerprint = await _canned_fingerprint(session, key[0])
    cached = _canned_indexes.get(key)
    if cached is not None and cached.fingerprint == fingerprint and cached.pipeline is pipeline:
        return cached
    rows = (
        await session.execute(
            select(CannedReply.id, CannedReply.owner_id, CannedReply.title, CannedReply.body)
            .where(*_store_replies(key[0]))
            .order_by(CannedReply.id)
        )
    ).all()
    analyze = pipeline.analyzer.analyze
    replies = [
        _IndexedReply(
            rid,
            owner,
            frozenset(analyze(title).terms),
            # Variables say nothing about the topic ("{{customer.name}}"): drop them.
            frozenset(analyze(canned_service.render_canned(body, {})).terms),
        )
        for rid, owner, title, body in rows
    ]
    built = _CannedIndex(fingerprint, pipeline, replies)
    _canned_indexes[key] = built
    return built


def _term_weights(pipeline: BotPipeline, terms: dict[str, float]) -> dict[str, float]:
    """Each query term's weight: its IDF in the shop's knowledge base (unknown words count
    most), times the analyzer's own weight (question words count less)."""
    index = pipeline.retriever.index
    out: dict[str, float] = {}
    for term, weight in terms.items():
        field = index.fields.get(term[:2])
        if field is None:
            continue
        tid = field.vocab.get(term)
        idf = float(field.idf[tid]) if tid is not None else field.unknown_idf
        field_weight = 1.0 if term.startswith("w:") else index.char_weight
        out[term] = idf * field_weight * min(weight, 1.0)
    return out


def _coverage(reply: _IndexedReply, weights: dict[str, float], strong: set[str]) -> float:
    """Share of the message's weight the reply covers: title words fully, body words at
    BODY_MATCH. A reply that shares only question words ("怎么", "吗") covers nothing."""
    total = sum(weights.values())
    if total <= 0 or not (strong & (reply.title_terms | reply.body_terms)):
        return 0.0
    matched = 0.0
    for term, weight in weights.items():
        if term in reply.title_terms:
            matched += weight
        elif term in reply.body_terms:
            matched += weight * BODY_MATCH
    return matched / total


async def _latest_customer_message(
    session: AsyncSession, conversation_id: int, message_id: int | None
) -> Message | None:
    stmt = select(Message).where(
        Message.conversation_id == conversation_id,
        Message.sender_kind == "customer",
        Message.kind == "text",
    )
    if message_id is not None:
        stmt = stmt.where(Message.id == message_id)
    found: Message | None = await session.scalar(stmt.order_by(Message.id.desc()).limit(1))
    return found


async def assist_for(
    session: AsyncSession,
    principal: Principal,
    conversation_id: int,
    *,
    message_id: int | None = None,
) -> Assist:
    """Suggestions for the conversation's latest customer text message (or `message_id`)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("会话不存在", "Conversation not found")
    message = await _latest_customer_message(session, conversation.id, message_id)
    if message is None:
        if message_id is not None:
            raise NotFound("该会话中没有这条客户消息", "No such customer message in this chat")
        return Assist(conversation.id, None, "", "none", [], [])
    settings = bot_settings(await session.get(Store, conversation.store_id))
    thresholds = Thresholds(answer=settings.answer_threshold, suggest=settings.suggest_threshold)
    pipeline, faq_ids = await pipeline_for(
        session, conversation.store_id, conversation.channel, thresholds
    )
    understanding = pipeline.understand(message.body)
    answers = [
        FaqSuggestion(
            faq_id=faq_ids.get(hit.entry.id),
            key=hit.entry.id,
            question=hit.entry.question,
            answer=hit.entry.answer or hit.entry.question,
            confidence=round(hit.confidence, 3),
        )
        for hit in understanding.suggestions[:TOP_N]
        if hit.confidence >= FAQ_FLOOR
    ]
    key = (conversation.store_id, conversation.channel, thresholds)
    canned = await _canned_suggestions(
        session, principal, conversation, key, pipeline, message.body
    )
    return Assist(conversation.id, message.id, message.body, understanding.label, answers, canned)


async def _canned_suggestions(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    key: tuple[int, str, Thresholds],
    pipeline: BotPipeline,
    text: str,
) -> list[CannedSuggestion]:
    index = await _canned_index(session, key, pipeline)
    me = principal.user.id
    usable = [r for r in index.replies if r.owner_id in (None, me)]
    if not usable:
        return []
    terms = pipeline.analyzer.analyze(text).terms
    weights = _term_weights(pipeline, terms)
    strong = {t for t, w in terms.items() if t.startswith("c:") or w >= 1.0}
    scored = sorted(
        ((_coverage(r, weights, strong), r.id) for r in usable), key=lambda s: (-s[0], s[1])
    )
    best = [(score, rid) for score, rid in scored[:TOP_N] if score >= CANNED_FLOOR]
    if not best:
        return []
    found = await session.scalars(
        select(CannedReply).where(CannedReply.id.in_([rid for _, rid in best]))
    )
    replies = {r.id: r for r in found}
    context = await canned_service.render_context(session, principal, conversation)
    return [
        CannedSuggestion(
            id=rid,
            title=replies[rid].title,
            shortcut=replies[rid].shortcut,
            text=canned_service.render_canned(replies[rid].body, context),
            confidence=round(score, 3),
        )
        for score, rid in best
        if rid in replies  # deleted since the index was built
    ]


def clear_cache() -> None:
    _canned_indexes.clear()
