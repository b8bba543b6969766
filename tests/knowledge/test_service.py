"""FAQ entries and articles: create, edit, enable/disable and delete each leave an audit entry
with before/after and a version; scope and validity decide what the bot may answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import AuditEntry
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, NotFound
from kefu.core.events import pending_events
from kefu.knowledge import service
from kefu.knowledge.schemas import ArticleIn, FaqIn
from tests.knowledge.conftest import EDITOR
from tests.store.conftest import MakeStore


async def _audit(session: AsyncSession, entity_type: str, entity_id: int) -> list[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return list(rows.all())


async def test_crud_is_audited_and_versioned(session: AsyncSession) -> None:
    data = FaqIn(
        question="包邮吗？",
        similar=["运费多少", " 运费多少 ", "", "偏远地区包邮吗"],
        answer="全场**满99元**包邮。",
        category="售前",
    )
    faq = await service.create_faq(session, EDITOR, data)
    assert faq.similar == ["运费多少", "偏远地区包邮吗"]  # trimmed, blanks and repeats dropped
    assert faq.answer_html == "<p>全场<strong>满99元</strong>包邮。</p>"
    assert faq.answer_text == "全场满99元包邮。"
    assert faq.external_id == f"KB{faq.id:05d}"

    edited = data.model_copy(update={"answer": "全场满88元包邮。"})
    await service.update_faq(session, EDITOR, faq.id, edited, expected_version=1)
    assert faq.version == 2
    # Saving the same content again is not an edit: no version, no audit entry.
    await service.update_faq(session, EDITOR, faq.id, edited, expected_version=2)
    assert faq.version == 2
    with pytest.raises(Conflict):
        await service.update_faq(session, EDITOR, faq.id, data, expected_version=1)

    await service.set_faq_enabled(session, EDITOR, faq.id, False)
    await service.set_faq_enabled(session, EDITOR, faq.id, True)
    await service.delete_faq(session, EDITOR, faq.id)
    with pytest.raises(NotFound):
        await service.get_faq(session, faq.id)
    await session.flush()

    audit = await _audit(session, "faq", faq.id)
    assert [a.action for a in audit] == [
        "knowledge.faq.create",
        "knowledge.faq.update",
        "knowledge.faq.disable",
        "knowledge.faq.enable",
        "knowledge.faq.delete",
    ]
    assert all(a.actor_name == "王主管" for a in audit)
    assert audit[1].before == {"answer": "全场**满99元**包邮。"}
    assert audit[1].after == {"answer": "全场满88元包邮。"}
    assert audit[2].before == {"enabled": True} and audit[2].after == {"enabled": False}
    assert audit[4].after == {"deleted": True}

    versions = await service.history(session, "faq", faq.id)
    assert [v.version for v in versions] == [5, 4, 3, 2, 1]
    assert [v.action for v in versions] == ["delete", "enable", "disable", "update", "create"]
    assert versions[3].changed == ["answer"]
    assert versions[4].snapshot["answer"] == "全场**满99元**包邮。"  # the old text is kept


async def test_external_ids_are_unique(session: AsyncSession) -> None:
    await service.create_faq(session, EDITOR, FaqIn(external_id="F01", question="a", answer="b"))
    with pytest.raises(Conflict) as err:
        await service.create_faq(
            session, EDITOR, FaqIn(external_id="F01", question="c", answer="d")
        )
    assert "F01" in err.value.zh


async def test_validity_and_scope_decide_what_the_bot_answers(
    session: AsyncSession, make_store: MakeStore
) -> None:
    a = await make_store(code="shop-a")
    b = await make_store(code="shop-b")
    now = utcnow()

    async def add(question: str, **fields: object) -> None:
        await service.create_faq(
            session, EDITOR, FaqIn(question=question, answer=f"{question}的答案", **fields)
        )

    await add("全店通用")
    await add("只在A店", all_stores=False, store_ids=[a.id])
    await add("只在B店", all_stores=False, store_ids=[b.id])
    await add("双十一活动", valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1))
    await add("明天才开始", valid_from=now + timedelta(days=1))
    await add("已经结束", valid_until=now - timedelta(minutes=1))
    await add("已停用", enabled=False)
    await add("只在邮件", channels=["email"])
    deleted = await service.create_faq(session, EDITOR, FaqIn(question="已删除", answer="x"))
    await service.delete_faq(session, EDITOR, deleted.id)

    live = await service.active_faq_entries(session, a.id, "web", now)
    assert {e.question for e in live} == {"全店通用", "只在A店", "双十一活动"}
    assert live[0].answer.endswith("的答案")
    email = await service.active_faq_entries(session, a.id, "email", now)
    assert "只在邮件" in {e.question for e in email}
    on_b = await service.active_faq_entries(session, b.id, "web", now)
    assert {e.question for e in on_b} == {"全店通用", "只在B店", "双十一活动"}
    later = await service.active_faq_entries(session, a.id, "web", now + timedelta(days=2))
    assert {e.question for e in later} == {"全店通用", "只在A店", "明天才开始"}


async def test_changes_queue_knowledge_changed_per_store(
    session: AsyncSession, make_store: MakeStore
) -> None:
    a = await make_store(code="ev-a")
    b = await make_store(code="ev-b")
    faq = await service.create_faq(
        session, EDITOR, FaqIn(question="q", answer="a", all_stores=False, store_ids=[a.id])
    )
    events = pending_events(session)
    assert events == [(f"store:{a.id}", {"type": "knowledge.changed", "store_id": a.id})]
    await session.commit()
    # Moving the entry from A to B changes both stores' answers.
    await service.update_faq(
        session, EDITOR, faq.id, FaqIn(question="q", answer="a", all_stores=False, store_ids=[b.id])
    )
    assert {c for c, _ in pending_events(session)} == {f"store:{a.id}", f"store:{b.id}"}
    await session.rollback()
    assert pending_events(session) == []  # nothing is announced for a change that did not happen


def test_scope_and_period_are_checked() -> None:
    with pytest.raises(ValueError, match="适用店铺"):
        FaqIn(question="q", answer="a", all_stores=False, store_ids=[])
    now = utcnow()
    with pytest.raises(ValueError, match="失效时间必须晚于生效时间"):
        FaqIn(question="q", answer="a", valid_from=now, valid_until=now)


async def test_list_filters_and_search(session: AsyncSession, make_store: MakeStore) -> None:
    a = await make_store(code="list-a")
    now = utcnow()
    await service.create_faq(
        session,
        EDITOR,
        FaqIn(question="什么时候发货？", similar=["多久发货"], answer="48小时内", category="售前"),
    )
    await service.create_faq(
        session,
        EDITOR,
        FaqIn(question="怎么退货？", answer="7天无理由", category="售后", enabled=False),
    )
    await service.create_faq(
        session,
        EDITOR,
        FaqIn(
            question="A店专属优惠",
            answer="满100减10",
            category="售前",
            all_stores=False,
            store_ids=[a.id],
            valid_from=now + timedelta(days=3),
        ),
    )

    async def questions(**kw: object) -> list[str]:
        rows, total = await service.list_faqs(session, service.FaqFilters(**kw))  # type: ignore[arg-type]
        assert total == len(rows)
        return [r.question for r in rows]

    assert await questions(q="多久") == ["什么时候发货？"]  # similar questions are searched
    assert await questions(q="7天") == ["怎么退货？"]  # and answers
    assert await questions(category="售后") == ["怎么退货？"]
    assert await questions(enabled=False) == ["怎么退货？"]
    assert await questions(validity="scheduled") == ["A店专属优惠"]
    assert sorted(await questions(store_id=a.id)) == sorted(
        ["什么时候发货？", "怎么退货？", "A店专属优惠"]
    )
    assert await service.faq_categories(session) == ["售前", "售后"]
    counts = await service.faq_counts(session)
    assert counts == {"total": 3, "active": 1, "scheduled": 1, "expired": 0, "disabled": 1}


async def test_articles_are_audited_and_versioned(session: AsyncSession) -> None:
    article = await service.create_article(
        session,
        EDITOR,
        ArticleIn(
            title="羊绒大衣保养",
            body="干洗，**不可水洗**",
            category="商品知识",
            tags=["羊绒", "保养"],
        ),
    )
    await service.update_article(
        session, EDITOR, article.id, ArticleIn(title="羊绒大衣保养", body="只能干洗", tags=["羊绒"])
    )
    rows, total = await service.list_articles(session, service.ArticleFilters(tag="羊绒"))
    assert total == 1 and rows[0].body_html == "<p>只能干洗</p>"
    await service.delete_article(session, EDITOR, article.id)
    await session.flush()
    actions = [a.action for a in await _audit(session, "article", article.id)]
    assert actions == [
        "knowledge.article.create",
        "knowledge.article.update",
        "knowledge.article.delete",
    ]
    assert [v.version for v in await service.history(session, "article", article.id)] == [3, 2, 1]
