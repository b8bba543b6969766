"""The learning loop: questions the bot could not answer well are queued and grouped, one click
teaches the bot (the very next identical question is answered), review state persists and is
audited; customers rate FAQ answers (有帮助 / 没帮助) through a signed token in the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from kefu.bot import learning, rating
from kefu.bot.models import BotTurn
from kefu.conversations import service as conversations
from kefu.conversations.models import Message
from kefu.core import jobs
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.knowledge import service as knowledge
from kefu.knowledge.models import Faq
from kefu.knowledge.schemas import FaqIn
from kefu.store.models import Store
from kefu.worker import load_task_modules
from tests.conversations.test_service import visitor

MakeFaq = Callable[..., Awaitable[int]]
LoginAs = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
def bot_jobs(db: Database) -> Iterator[None]:
    """The `bot.reply` job registered and run in-process on the test database."""
    load_task_modules()
    jobs.use_job_sessionmaker(db.sessionmaker)
    yield
    jobs.use_job_sessionmaker(None)


@pytest.fixture
async def shop(bot_jobs: None, make_store: Any, make_faq: MakeFaq) -> Store:
    """A store whose bot is on, with a few FAQ entries."""
    store: Store = await make_store(
        code="learn-shop", name="优衣小铺", settings={"bot": {"enabled": True}}
    )
    await make_faq(
        "退货运费谁出",
        "七天无理由退货的运费由买家承担；质量问题由我们承担运费。",
        similar=["退货邮费谁承担", "退货要自己出运费吗"],
    )
    await make_faq("多久发货", "付款后 48 小时内发货。", similar=["什么时候发货", "几天能发货"])
    await make_faq(
        "退货地址是什么", "请寄到浙江省杭州市余杭区文一西路 969 号。", similar=["退货寄到哪里"]
    )
    await make_faq("怎么申请退货", "在“我的订单”里点“申请售后”即可。", similar=["退货流程是什么"])
    return store


async def ask(db: Database, store: Store, text: str) -> BotTurn:
    """A new visitor asks `text`; the `bot.reply` job answers it after the commit."""
    async with db.sessionmaker() as s:
        posted = await conversations.post_customer_message(
            s, visitor(store), client_msg_id="c1", body=text
        )
        await s.commit()
    await jobs.drain()
    async with db.sessionmaker() as s:
        turn = await s.scalar(select(BotTurn).where(BotTurn.message_id == posted.message.id))
        assert turn is not None
        return turn


async def queue(db: Database, store: Store) -> list[learning.QuestionGroup]:
    async with db.sessionmaker() as s:
        now = utcnow()
        return await learning.learning_queue(s, store.id, now - timedelta(days=1), now)


async def audits(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessionmaker() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --------------------------------------------------------------------------- grouping


def test_alike_phrasings_group_and_unrelated_ones_do_not() -> None:
    texts = {
        "发票怎么开": 3,
        "怎么开发票": 1,
        "能开发票吗": 2,
        "积分怎么用": 1,
        "积分可以抵现吗": 1,
        "衣服会起球吗": 1,
        "今天天气怎么样": 1,
    }
    questions = []
    next_id = 1
    for text, n in texts.items():
        q = learning.QueuedQuestion(text, text, list(range(next_id, next_id + n)), utcnow())
        next_id += n
        questions.append(q)
    groups = learning.cluster_questions(questions)

    def group_of(text: str) -> list[str]:
        return next(
            sorted(q.text for q in g.questions)
            for g in groups
            if text in [q.text for q in g.questions]
        )

    assert groups[0].title == "发票怎么开" and groups[0].count == 6  # most asked first
    assert group_of("能开发票吗") == ["发票怎么开", "怎么开发票", "能开发票吗"]
    assert group_of("积分怎么用") == ["积分可以抵现吗", "积分怎么用"]
    assert group_of("衣服会起球吗") == ["衣服会起球吗"]
    assert group_of("今天天气怎么样") == ["今天天气怎么样"]
    assert len(groups) == 4


async def test_queue_holds_what_the_bot_missed_grouped_with_its_best_guess(
    db: Database, shop: Store, make_store: Any
) -> None:
    answered = await ask(db, shop, "退货运费谁出")
    assert answered.outcome == "answered"
    for text in ("发票怎么开", "发票怎么开", "怎么开发票", "能开发票吗", "拍下的东西哪天寄出"):
        await ask(db, shop, text)
    other = await make_store(code="other", settings={"bot": {"enabled": True}})
    await ask(db, other, "发票怎么开")

    groups = await queue(db, shop)
    assert [(g.title, g.count) for g in groups] == [("发票怎么开", 4), ("拍下的东西哪天寄出", 1)]
    invoice, shipping = groups
    assert invoice.reasons == {"none": 4} and invoice.guess is None
    assert shipping.reasons == {"suggested": 1}
    assert shipping.guess is not None and shipping.guess.question == "多久发货"
    assert not shipping.answered_now
    assert answered.id not in {i for g in groups for i in g.turn_ids}

    # Knowledge edited elsewhere: the group stays (nobody reviewed it) but says it is learnt.
    async with db.sessionmaker() as s:
        faq = await knowledge.get_faq(s, shipping.guess.faq_id)
        data = FaqIn(question=faq.question, answer=faq.answer, similar=["拍下的东西哪天寄出"])
        await knowledge.update_faq(s, Actor("system", None, "editor"), faq.id, data)
        await s.commit()
    shipping_now = next(g for g in await queue(db, shop) if g.title == "拍下的东西哪天寄出")
    assert shipping_now.answered_now


# --------------------------------------------------------------------------- reviewing


async def test_adding_as_similar_question_teaches_the_bot_at_once(
    db: Database, shop: Store, login_as: LoginAs
) -> None:
    first = await ask(db, shop, "拍下的东西哪天寄出")
    assert first.outcome == "suggested"
    sup = await login_as("supervisor")
    page = await sup.get("/bot/learning", params={"store": shop.id})
    assert page.status_code == 200 and "拍下的东西哪天寄出" in page.text
    [group] = await queue(db, shop)
    assert group.guess is not None

    done = await sup.post(
        "/bot/learning/review",
        data={
            "store_id": shop.id,
            "turns": str(first.id),
            "faq_id": group.guess.faq_id,
            "action": "similar",
        },
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/bot/learning?")
    async with db.sessionmaker() as s:
        faq = await s.get(Faq, group.guess.faq_id)
        assert faq is not None and "拍下的东西哪天寄出" in faq.similar and faq.version == 2
        turn = await s.get(BotTurn, first.id)
        assert turn is not None and (turn.review, turn.review_faq_id) == ("similar", faq.id)
    [entry] = await audits(db, "bot.learning.similar")
    assert entry.actor_id == sup.user.id  # type: ignore[attr-defined]
    assert len(await audits(db, "knowledge.faq.update")) == 1

    # The cached pipeline sees the change: the same question is now answered directly.
    again = await ask(db, shop, "拍下的东西哪天寄出")
    assert again.outcome == "answered" and again.faq_id == faq.id
    async with db.sessionmaker() as s:
        reply = await s.get(Message, again.reply_message_id)
        assert reply is not None and "48 小时" in reply.body
    assert await queue(db, shop) == []
    page = await sup.get("/bot/learning", params={"store": shop.id})
    assert "拍下的东西哪天寄出" not in page.text


async def test_ignore_persists_and_a_second_submit_changes_nothing(
    db: Database, shop: Store, login_as: LoginAs
) -> None:
    a = await ask(db, shop, "今天天气怎么样")
    b = await ask(db, shop, "今天天气怎么样")
    sup = await login_as("supervisor")
    form = {"store_id": shop.id, "turns": f"{a.id},{b.id}", "action": "ignore"}
    assert (await sup.post("/bot/learning/review", data=form)).status_code == 303
    assert (await sup.post("/bot/learning/review", data=form)).status_code == 303
    assert await queue(db, shop) == []
    async with db.sessionmaker() as s:
        reviews = await s.scalars(select(BotTurn.review).where(BotTurn.id.in_([a.id, b.id])))
        assert set(reviews) == {"ignored"}
    [entry] = await audits(db, "bot.learning.ignore")
    assert entry.after == {"turn_ids": [a.id, b.id]}


async def test_new_faq_opens_the_form_prefilled_and_saving_it_clears_the_group(
    db: Database, shop: Store, login_as: LoginAs
) -> None:
    turns = [await ask(db, shop, t) for t in ("发票怎么开", "发票怎么开", "能开发票吗")]
    sup = await login_as("supervisor")
    ids = ",".join(str(t.id) for t in turns)
    opened = await sup.post(
        "/bot/learning/review", data={"store_id": shop.id, "turns": ids, "action": "new_faq"}
    )
    assert opened.status_code == 303
    target = urlsplit(opened.headers["location"])
    assert target.path == "/knowledge/faqs/new"
    query = parse_qs(target.query)
    assert query["question"] == ["发票怎么开"] and query["similar"] == ["能开发票吗"]
    form_page = await sup.get(opened.headers["location"])
    assert (
        'value="发票怎么开"' in form_page.text
        and f'name="learning" value="{ids}"' in form_page.text
    )

    created = await sup.post(
        "/knowledge/faqs/new",
        data={
            "question": "发票怎么开",
            "similar": "能开发票吗",
            "answer": "下单时填写发票抬头，发货后开具电子发票。",
            "scope": "all",
            "enabled": "on",
            "learning": ids,
        },
    )
    assert created.status_code == 303
    faq_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert await queue(db, shop) == []
    async with db.sessionmaker() as s:
        rows = list(await s.scalars(select(BotTurn).where(BotTurn.id.in_([t.id for t in turns]))))
        assert {(r.review, r.review_faq_id) for r in rows} == {("new_faq", faq_id)}
    assert len(await audits(db, "bot.learning.new_faq")) == 1
    assert (await ask(db, shop, "发票怎么开")).outcome == "answered"


async def test_review_errors_are_explained_and_change_nothing(
    db: Database, shop: Store, login_as: LoginAs, make_faq: MakeFaq, make_store: Any
) -> None:
    turn = await ask(db, shop, "发票怎么开")
    sup = await login_as("supervisor")
    other = await make_store(code="elsewhere")
    foreign = await make_faq("别家的问答", "不适用", all_stores=False, store_ids=[other.id])
    refused = await sup.post(
        "/bot/learning/review",
        data={"store_id": shop.id, "turns": str(turn.id), "faq_id": foreign, "action": "similar"},
    )
    assert refused.status_code == 303
    page = await sup.get(refused.headers["location"])
    assert "该问答不适用于这个店铺" in page.text
    nothing = await sup.post("/bot/learning/review", data={"store_id": shop.id, "action": "ignore"})
    assert "请至少选择一条消息" in (await sup.get(nothing.headers["location"])).text
    bad_dates = await sup.get("/bot/learning", params={"since": "2026-13-01"})
    assert bad_dates.status_code == 200 and "日期格式不正确" in bad_dates.text
    assert [g.count for g in await queue(db, shop)] == [1]


async def test_only_knowledge_writers_see_the_queue(login_as: LoginAs, shop: Store) -> None:
    agent = await login_as("agent")
    assert (await agent.get("/bot/learning")).status_code == 403
    assert (
        await agent.post("/bot/learning/review", data={"store_id": shop.id, "action": "ignore"})
    ).status_code == 403
    assert (await (await login_as("qa")).get("/bot/learning")).status_code == 200


# --------------------------------------------------------------------------- rating answers


async def rate(client: httpx.AsyncClient, token: str, helpful: bool) -> httpx.Response:
    return await client.post(f"/api/v1/widget/bot-rating/{token}", json={"helpful": helpful})


async def test_customer_rates_an_answer_changeably_and_unhelpful_joins_the_queue(
    db: Database, shop: Store, client: httpx.AsyncClient
) -> None:
    turn = await ask(db, shop, "退货运费谁出")
    assert turn.outcome == "answered" and turn.confidence > learning.LOW_CONFIDENCE
    async with db.sessionmaker() as s:
        reply = await s.get(Message, turn.reply_message_id)
        assert reply is not None and reply.sender_kind == "bot"
        token = reply.payload["rate"]
    assert await queue(db, shop) == []

    down = await rate(client, token, False)
    assert down.status_code == 200 and down.json()["rating"] == -1
    assert (await rate(client, token, False)).status_code == 200  # a retry changes nothing
    assert len(await audits(db, "bot.answer_rating")) == 1
    [group] = await queue(db, shop)
    assert group.title == "退货运费谁出" and group.reasons == {"unhelpful": 1}

    up = await rate(client, token, True)
    assert up.json()["rating"] == 1
    async with db.sessionmaker() as s:
        saved = await s.get(BotTurn, turn.id)
        assert saved is not None and saved.rating == 1 and saved.rated_at is not None
    assert len(await audits(db, "bot.answer_rating")) == 2
    assert await queue(db, shop) == []


async def test_only_faq_answers_carry_a_rating_and_tokens_cannot_be_forged(
    db: Database, shop: Store, client: httpx.AsyncClient
) -> None:
    missed = await ask(db, shop, "发票怎么开")
    greeting = await ask(db, shop, "你好")
    async with db.sessionmaker() as s:
        for turn in (missed, greeting):
            reply = await s.get(Message, turn.reply_message_id)
            assert reply is not None and "rate" not in reply.payload
    # A valid signature for a message the bot did not answer from the FAQ rates nothing.
    not_an_answer = rating.rating_payload(missed.message_id)["rate"]
    refused = await rate(client, not_an_answer, True)
    assert refused.status_code == 404 and refused.json()["title_zh"] == "没有可评价的回答"
    forged = await rate(client, not_an_answer + "x", True)
    assert forged.status_code == 404
    bad_body = await client.post(
        f"/api/v1/widget/bot-rating/{not_an_answer}", json={"helpful": "很好", "x": 1}
    )
    assert bad_body.status_code == 422
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).where(BotTurn.rating.is_not(None))) == 0
