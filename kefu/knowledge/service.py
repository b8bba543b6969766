"""Knowledge-base rules: FAQ entries and articles, their scope and validity, the audit trail
and version history of every change, and what the bot may answer right now.

Every write records an audit entry (before/after) and a version snapshot in the same
transaction, and queues `knowledge.changed` on `store:{id}` for each store whose answers
changed, so the bot rebuilds its index only after the change is committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, NotFound
from kefu.core.events import pending_events, queue_event
from kefu.knowledge.content import render_markdown, to_plain_text
from kefu.knowledge.models import Article, Faq, FaqStore, KnowledgeVersion
from kefu.knowledge.schemas import ArticleIn, FaqIn
from kefu.store.models import Store

Status = Literal["active", "scheduled", "expired", "disabled"]
Validity = Literal["current", "scheduled", "expired"]

CHANGED_EVENT = "knowledge.changed"
PER_PAGE = 20


# --------------------------------------------------------------------------- what the bot sees


@dataclass(frozen=True)
class ActiveFaq:
    """A FAQ entry the bot may answer with now (plain data; no session needed)."""

    id: int
    external_id: str | None
    question: str
    similar: tuple[str, ...]
    answer: str  # plain text, for chat channels
    category: str
    answer_html: str = ""

    @property
    def key(self) -> str:
        """The id the bot labels its answers with (`faq:<key>`): the shop's own id if any."""
        return self.external_id or str(self.id)

    def as_bot_dict(self) -> dict[str, Any]:
        """The kb.json shape `kefu.bot.retrieval.load_entries` / `BotPipeline.from_data` read."""
        return {
            "id": self.key,
            "question": self.question,
            "similar": list(self.similar),
            "answer": self.answer,
            "category": self.category,
        }


def _live(now: datetime) -> ColumnElement[bool]:
    """Enabled, not deleted and inside its validity period at `now`."""
    return and_(
        Faq.deleted_at.is_(None),
        Faq.enabled.is_(True),
        or_(Faq.valid_from.is_(None), Faq.valid_from <= now),
        or_(Faq.valid_until.is_(None), Faq.valid_until > now),
    )


def _for_store(store_id: int) -> ColumnElement[bool]:
    return or_(
        Faq.all_stores.is_(True),
        exists().where(FaqStore.faq_id == Faq.id, FaqStore.store_id == store_id),
    )


async def active_faq_entries(
    session: AsyncSession, store_id: int, channel: str | None = None, at: datetime | None = None
) -> list[ActiveFaq]:
    """The entries valid at `at` (default now), enabled, for `store_id` and `channel`
    (None = any channel), in the order they were created (the shop's file order)."""
    now = at or utcnow()
    rows = (
        await session.scalars(select(Faq).where(_live(now), _for_store(store_id)).order_by(Faq.id))
    ).all()
    return [
        ActiveFaq(
            id=f.id,
            external_id=f.external_id,
            question=f.question,
            similar=tuple(f.similar or ()),
            answer=f.answer_text,
            category=f.category,
            answer_html=f.answer_html,
        )
        for f in rows
        if channel is None or not f.channels or channel in f.channels
    ]


# --------------------------------------------------------------------------- helpers


def faq_status(faq: Faq, now: datetime | None = None) -> Status:
    now = now or utcnow()
    if not faq.enabled:
        return "disabled"
    if faq.valid_from is not None and faq.valid_from > now:
        return "scheduled"
    if faq.valid_until is not None and faq.valid_until <= now:
        return "expired"
    return "active"


def _iso(value: datetime | None) -> str | None:
    # In UTC, so the same instant typed in another offset compares equal.
    return value.astimezone(UTC).isoformat() if value else None


def faq_snapshot(faq: Faq, store_ids: Sequence[int]) -> dict[str, Any]:
    """Everything an editor can change, as JSON: the audit before/after and version rows."""
    return {
        "external_id": faq.external_id,
        "question": faq.question,
        "similar": list(faq.similar or []),
        "answer": faq.answer,
        "category": faq.category,
        "all_stores": faq.all_stores,
        "store_ids": sorted(store_ids),
        "channels": list(faq.channels or []),
        "valid_from": _iso(faq.valid_from),
        "valid_until": _iso(faq.valid_until),
        "enabled": faq.enabled,
        "deleted": faq.deleted_at is not None,
    }


def article_snapshot(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "category": article.category,
        "tags": list(article.tags or []),
        "deleted": article.deleted_at is not None,
    }


async def faq_store_ids(session: AsyncSession, faq_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(faq_ids)
    found: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(FaqStore.faq_id, FaqStore.store_id).where(FaqStore.faq_id.in_(ids))
    )
    for faq_id, store_id in rows:
        found[faq_id].append(store_id)
    for value in found.values():
        value.sort()
    return found


async def _save_version(
    session: AsyncSession,
    actor: Actor,
    entity_type: str,
    entity_id: int,
    version: int,
    action: str,
    snapshot: dict[str, Any],
) -> None:
    session.add(
        KnowledgeVersion(
            entity_type=entity_type,
            entity_id=entity_id,
            version=version,
            action=action,
            snapshot=snapshot,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            at=utcnow(),
        )
    )


async def _stores_changed(session: AsyncSession, *scopes: tuple[bool, Sequence[int]]) -> None:
    """Queue `knowledge.changed` once per affected store for this transaction."""
    ids: set[int] = set()
    for all_stores, store_ids in scopes:
        if all_stores:
            ids.update((await session.scalars(select(Store.id))).all())
        else:
            ids.update(store_ids)
    # The session's own event buffer tells what is already queued; it empties on commit
    # and rollback, so the next transaction announces its changes again.
    queued = {
        channel
        for channel, payload in pending_events(session)
        if payload.get("type") == CHANGED_EVENT
    }
    for store_id in sorted(ids):
        channel = f"store:{store_id}"
        if channel not in queued:
            queue_event(session, channel, {"type": CHANGED_EVENT, "store_id": store_id})


def _faq_search_text(faq: Faq) -> str:
    return "\n".join([faq.question, *(faq.similar or []), faq.answer_text]).lower()


async def _check_stores(session: AsyncSession, store_ids: Sequence[int]) -> None:
    if not store_ids:
        return
    found = set((await session.scalars(select(Store.id).where(Store.id.in_(store_ids)))).all())
    missing = [i for i in store_ids if i not in found]
    if missing:
        raise NotFound(
            f"店铺不存在：{', '.join(map(str, missing))}",
            f"Unknown store: {', '.join(map(str, missing))}",
        )


async def _check_external_id(session: AsyncSession, external_id: str, own_id: int | None) -> None:
    query = select(Faq.id).where(Faq.external_id == external_id)
    if own_id is not None:
        query = query.where(Faq.id != own_id)
    if await session.scalar(query) is not None:
        raise Conflict(
            f"编号“{external_id}”已被其他问答使用", f"The id {external_id!r} is already in use"
        )


def _apply(faq: Faq, data: FaqIn, actor: Actor) -> None:
    faq.question = data.question
    faq.similar = list(data.similar)
    faq.answer = data.answer
    faq.answer_html = render_markdown(data.answer)
    faq.answer_text = to_plain_text(data.answer)
    faq.category = data.category
    faq.all_stores = data.all_stores
    faq.channels = list(data.channels)
    faq.valid_from = data.valid_from
    faq.valid_until = data.valid_until
    faq.enabled = data.enabled
    faq.updated_by = actor.name
    faq.search_text = _faq_search_text(faq)


async def _set_stores(session: AsyncSession, faq_id: int, store_ids: Sequence[int]) -> None:
    await session.execute(delete(FaqStore).where(FaqStore.faq_id == faq_id))
    for store_id in store_ids:
        session.add(FaqStore(faq_id=faq_id, store_id=store_id))


# --------------------------------------------------------------------------- FAQ entries


async def get_faq(session: AsyncSession, faq_id: int, *, include_deleted: bool = False) -> Faq:
    faq = await session.get(Faq, faq_id)
    if faq is None or (faq.deleted_at is not None and not include_deleted):
        raise NotFound("找不到该问答", "FAQ entry not found")
    return faq


async def create_faq(session: AsyncSession, actor: Actor, data: FaqIn) -> Faq:
    await _check_stores(session, data.store_ids)
    if data.external_id:
        await _check_external_id(session, data.external_id, None)
    faq = Faq(external_id=data.external_id, version=1)
    _apply(faq, data, actor)
    session.add(faq)
    await session.flush()
    if faq.external_id is None:
        # Every entry gets an id of its own, so an exported file imports back onto it.
        faq.external_id = f"KB{faq.id:05d}"
    await _set_stores(session, faq.id, data.store_ids)
    snap = faq_snapshot(faq, data.store_ids)
    await record_audit(session, actor, "knowledge.faq.create", "faq", faq.id, after=snap)
    await _save_version(session, actor, "faq", faq.id, 1, "create", snap)
    await _stores_changed(session, (faq.all_stores, data.store_ids))
    await session.flush()
    return faq


async def update_faq(
    session: AsyncSession,
    actor: Actor,
    faq_id: int,
    data: FaqIn,
    *,
    expected_version: int | None = None,
    restore: bool = False,
) -> Faq:
    """Saves an edit. With `expected_version`, refuses to overwrite someone else's newer
    save (two supervisors editing the same answer). Returns the entry unchanged, without a
    new version, when nothing differs."""
    faq = await get_faq(session, faq_id, include_deleted=restore)
    if expected_version is not None and faq.version != expected_version:
        raise Conflict(
            f"该问答已被{faq.updated_by or '他人'}修改（当前第 {faq.version} 版），"
            "请刷新后重新编辑",
            f"Someone else saved this entry (now version {faq.version}); reload and edit again",
        )
    await _check_stores(session, data.store_ids)
    if data.external_id is None:
        data = data.model_copy(update={"external_id": faq.external_id})
    elif data.external_id != faq.external_id:
        await _check_external_id(session, data.external_id, faq.id)
    old_stores = (await faq_store_ids(session, [faq.id]))[faq.id]
    before = faq_snapshot(faq, old_stores)
    was_deleted = faq.deleted_at is not None
    last_editor = faq.updated_by
    faq.external_id = data.external_id
    _apply(faq, data, actor)
    if restore:
        faq.deleted_at = None
    after = faq_snapshot(faq, data.store_ids)
    if after == before:
        faq.updated_by = last_editor  # an identical save (or re-import) is not an edit
        return faq
    faq.version += 1
    await _set_stores(session, faq.id, data.store_ids)
    action = "restore" if was_deleted and restore else "update"
    await record_audit(
        session, actor, f"knowledge.faq.{action}", "faq", faq.id, before=before, after=after
    )
    await _save_version(session, actor, "faq", faq.id, faq.version, action, after)
    await _stores_changed(
        session, (before["all_stores"], old_stores), (faq.all_stores, data.store_ids)
    )
    await session.flush()
    return faq


async def set_faq_enabled(session: AsyncSession, actor: Actor, faq_id: int, enabled: bool) -> Faq:
    faq = await get_faq(session, faq_id)
    if faq.enabled == enabled:
        return faq
    stores = (await faq_store_ids(session, [faq.id]))[faq.id]
    before = faq_snapshot(faq, stores)
    faq.enabled = enabled
    faq.updated_by = actor.name
    faq.version += 1
    after = faq_snapshot(faq, stores)
    action = "enable" if enabled else "disable"
    await record_audit(
        session, actor, f"knowledge.faq.{action}", "faq", faq.id, before=before, after=after
    )
    await _save_version(session, actor, "faq", faq.id, faq.version, action, after)
    await _stores_changed(session, (faq.all_stores, stores))
    await session.flush()
    return faq


async def delete_faq(session: AsyncSession, actor: Actor, faq_id: int) -> None:
    """Soft delete: the entry leaves every list and the bot, its history stays readable."""
    faq = await get_faq(session, faq_id)
    stores = (await faq_store_ids(session, [faq.id]))[faq.id]
    before = faq_snapshot(faq, stores)
    faq.deleted_at = utcnow()
    faq.updated_by = actor.name
    faq.version += 1
    after = faq_snapshot(faq, stores)
    await record_audit(
        session, actor, "knowledge.faq.delete", "faq", faq.id, before=before, after=after
    )
    await _save_version(session, actor, "faq", faq.id, faq.version, "delete", after)
    await _stores_changed(session, (faq.all_stores, stores))
    await session.flush()


@dataclass(frozen=True)
class FaqFilters:
    q: str = ""
    category: str = ""
    store_id: int | None = None
    enabled: bool | None = None
    validity: Validity | None = None


def _faq_conditions(filters: FaqFilters, now: datetime) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Faq.deleted_at.is_(None)]
    if filters.q.strip():
        for word in filters.q.lower().split():
            conds.append(Faq.search_text.contains(word, autoescape=True))
    if filters.category:
        conds.append(Faq.category == filters.category)
    if filters.store_id is not None:
        conds.append(_for_store(filters.store_id))
    if filters.enabled is not None:
        conds.append(Faq.enabled.is_(true() if filters.enabled else false()))
    if filters.validity == "current":
        conds.append(
            and_(
                or_(Faq.valid_from.is_(None), Faq.valid_from <= now),
                or_(Faq.valid_until.is_(None), Faq.valid_until > now),
            )
        )
    elif filters.validity == "scheduled":
        conds.append(Faq.valid_from > now)
    elif filters.validity == "expired":
        conds.append(Faq.valid_until <= now)
    return conds


async def list_faqs(
    session: AsyncSession, filters: FaqFilters, page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[Faq], int]:
    conds = _faq_conditions(filters, utcnow())
    total = int(await session.scalar(select(func.count()).select_from(Faq).where(*conds)) or 0)
    page = max(page, 1)
    rows = (
        await session.scalars(
            select(Faq).where(*conds).order_by(Faq.id).offset((page - 1) * per_page).limit(per_page)
        )
    ).all()
    return list(rows), total


async def faq_categories(session: AsyncSession) -> list[str]:
    """Categories in the order they first appear (a shop's file lists 售前 before 售后)."""
    rows = await session.execute(
        select(Faq.category)
        .where(Faq.deleted_at.is_(None))
        .group_by(Faq.category)
        .order_by(func.min(Faq.id))
    )
    return [c for (c,) in rows.all() if c]


async def faq_counts(session: AsyncSession) -> dict[str, int]:
    """Tiles on the list page: all, answering now, scheduled/expired, disabled."""
    now = utcnow()
    rows = (await session.scalars(select(Faq).where(Faq.deleted_at.is_(None)))).all()
    counts = {"total": len(rows), "active": 0, "scheduled": 0, "expired": 0, "disabled": 0}
    for faq in rows:
        counts[faq_status(faq, now)] += 1
    return counts


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class VersionView:
    version: int
    action: str
    at: datetime
    actor_name: str
    snapshot: dict[str, Any]
    changed: list[str]


async def history(session: AsyncSession, entity_type: str, entity_id: int) -> list[VersionView]:
    """Newest first; `changed` names the fields that differ from the version before."""
    rows = (
        await session.scalars(
            select(KnowledgeVersion)
            .where(
                KnowledgeVersion.entity_type == entity_type,
                KnowledgeVersion.entity_id == entity_id,
            )
            .order_by(KnowledgeVersion.version)
        )
    ).all()
    out: list[VersionView] = []
    previous: dict[str, Any] | None = None
    for row in rows:
        snap = dict(row.snapshot)
        changed = [] if previous is None else [k for k in snap if snap.get(k) != previous.get(k)]
        out.append(VersionView(row.version, row.action, row.at, row.actor_name, snap, changed))
        previous = snap
    return list(reversed(out))


# --------------------------------------------------------------------------- articles


def _apply_article(article: Article, data: ArticleIn, actor: Actor) -> None:
    article.title = data.title
    article.body = data.body
    article.body_html = render_markdown(data.body)
    article.category = data.category
    article.tags = list(data.tags)
    article.updated_by = actor.name
    article.search_text = "\n".join(
        [data.title, " ".join(data.tags), to_plain_text(data.body)]
    ).lower()


async def get_article(session: AsyncSession, article_id: int) -> Article:
    article = await session.get(Article, article_id)
    if article is None or article.deleted_at is not None:
        raise NotFound("找不到该文章", "Article not found")
    return article


async def create_article(session: AsyncSession, actor: Actor, data: ArticleIn) -> Article:
    article = Article(version=1)
    _apply_article(article, data, actor)
    session.add(article)
    await session.flush()
    snap = article_snapshot(article)
    await record_audit(
        session, actor, "knowledge.article.create", "article", article.id, after=snap
    )
    await _save_version(session, actor, "article", article.id, 1, "create", snap)
    await session.flush()
    return article


async def update_article(
    session: AsyncSession,
    actor: Actor,
    article_id: int,
    data: ArticleIn,
    *,
    expected_version: int | None = None,
) -> Article:
    article = await get_article(session, article_id)
    if expected_version is not None and article.version != expected_version:
        raise Conflict(
            f"该文章已被{article.updated_by or '他人'}修改，请刷新后重新编辑",
            "Someone else saved this article; reload and edit again",
        )
    before = article_snapshot(article)
    last_editor = article.updated_by
    _apply_article(article, data, actor)
    after = article_snapshot(article)
    if after == before:
        article.updated_by = last_editor
        return article
    article.version += 1
    await record_audit(
        session,
        actor,
        "knowledge.article.update",
        "article",
        article.id,
        before=before,
        after=after,
    )
    await _save_version(session, actor, "article", article.id, article.version, "update", after)
    await session.flush()
    return article


async def delete_article(session: AsyncSession, actor: Actor, article_id: int) -> None:
    article = await get_article(session, article_id)
    before = article_snapshot(article)
    article.deleted_at = utcnow()
    article.updated_by = actor.name
    article.version += 1
    after = article_snapshot(article)
    await record_audit(
        session,
        actor,
        "knowledge.article.delete",
        "article",
        article.id,
        before=before,
        after=after,
    )
    await _save_version(session, actor, "article", article.id, article.version, "delete", after)
    await session.flush()


@dataclass(frozen=True)
class ArticleFilters:
    q: str = ""
    category: str = ""
    tag: str = ""


async def list_articles(
    session: AsyncSession, filters: ArticleFilters, page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[Article], int]:
    conds: list[ColumnElement[bool]] = [Article.deleted_at.is_(None)]
    for word in filters.q.lower().split():
        conds.append(Article.search_text.contains(word, autoescape=True))
    if filters.category:
        conds.append(Article.category == filters.category)
    rows = list(
        (
            await session.scalars(
                select(Article).where(*conds).order_by(Article.updated_at.desc(), Article.id)
            )
        ).all()
    )
    if filters.tag:
        # Tags live in a JSON list; filtering in Python keeps one query for both databases.
        rows = [a for a in rows if filters.tag in (a.tags or [])]
    page = max(page, 1)
    return rows[(page - 1) * per_page : page * per_page], len(rows)


async def article_facets(session: AsyncSession) -> tuple[list[str], list[str]]:
    rows = (await session.scalars(select(Article).where(Article.deleted_at.is_(None)))).all()
    categories = sorted({a.category for a in rows if a.category})
    tags = sorted({t for a in rows for t in (a.tags or [])})
    return categories, tags
