"""The agents' pages and API: daily-check lists with ages and filters, recording answers,
asking the customer in their chat (or copying the text), merge requests, settings, and who
may do what (agents act, QA only reads)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.conversations.models import Conversation, Message
from kefu.core.audit import AuditEntry
from kefu.core.db import Database, utcnow
from kefu.orderservice import work
from kefu.orderservice.models import AddressConfirmation, OrderFlag, StockoutCase
from kefu.store.enums import OrderStatus
from kefu.store.models import Order, OrderNote, Store
from tests.orderservice.conftest import PAID, UNPAID, Shop, run_sweep


async def _conversation(db: Database, shop: Shop, *, minutes_ago: int) -> int:
    async with db.sessionmaker() as s:
        conv = Conversation(
            store_id=shop.store.id,
            customer_id=shop.customer.id,
            visitor_hash=f"v{minutes_ago:060d}",
            last_message_at=utcnow() - timedelta(minutes=minutes_ago),
        )
        s.add(conv)
        await s.commit()
        return conv.id


async def test_daily_checks_lists_ages_filters_and_counts(
    db: Database, shop: Shop, buy: Any, make_store: Any, make_customer: Any, login_as: Any
) -> None:
    old_unpaid = await buy(days_ago=3, status=UNPAID)
    new_unpaid = await buy(days_ago=0.25, status=UNPAID)
    paid_old = await buy(days_ago=2.5)
    paid_new = await buy(days_ago=0.5)
    await buy(days_ago=5, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)  # shipped: in neither
    other_store = await make_store(name="京东店")
    vip = await make_customer(other_store, tier="vip", nickname="vip_buyer")
    vip_order = await buy(days_ago=1, customer=vip, store_id=other_store.id)

    agent = await login_as("agent")
    api = (await agent.get("/api/v1/orderservice/checks", params={"tab": "unpaid"})).json()
    assert [i["order_id"] for i in api["items"]] == [old_unpaid.id, new_unpaid.id]  # oldest first
    assert api["counts"] == {"unpaid": 2, "unshipped": 3}
    assert 71 < api["items"][0]["age_hours"] < 73

    unshipped = (await agent.get("/api/v1/orderservice/checks")).json()
    assert [i["order_id"] for i in unshipped["items"]] == [paid_old.id, vip_order.id, paid_new.id]

    older = (await agent.get("/api/v1/orderservice/checks", params={"older_than_hours": 24})).json()
    assert [i["order_id"] for i in older["items"]] == [paid_old.id, vip_order.id]
    by_store = (
        await agent.get("/api/v1/orderservice/checks", params={"store_id": shop.store.id})
    ).json()
    assert vip_order.id not in [i["order_id"] for i in by_store["items"]]
    by_tier = (await agent.get("/api/v1/orderservice/checks", params={"tier": "vip"})).json()
    assert [i["order_id"] for i in by_tier["items"]] == [vip_order.id]

    # Two paid orders of the same SKU by one buyer: both carry an open flag.
    await run_sweep(db)
    flagged = (await agent.get("/api/v1/orderservice/checks", params={"flagged": "true"})).json()
    assert sorted(i["order_id"] for i in flagged["items"]) == sorted([paid_old.id, paid_new.id])

    page = await agent.get("/orders/checks", params={"tab": "unpaid", "older_than": "24"})
    assert page.status_code == 200
    assert old_unpaid.order_no in page.text and new_unpaid.order_no not in page.text
    assert "3 天 0 小时" in page.text or "3 d 0 h" in page.text
    # A mistyped filter is ignored, not a 422.
    assert (await agent.get("/orders/checks", params={"older_than": "abc"})).status_code == 200


async def test_cancel_and_note_from_the_daily_check(
    db: Database, shop: Shop, buy: Any, login_as: Any
) -> None:
    unpaid = await buy(days_ago=2, status=UNPAID)
    agent = await login_as("agent")
    note = await agent.post(
        f"/orders/checks/{unpaid.id}/note",
        data={"body": "已催付，买家说今晚付款", "next": "/orders/checks?tab=unpaid"},
    )
    assert note.status_code == 303 and note.headers["location"] == "/orders/checks?tab=unpaid"
    cancel = await agent.post(
        f"/orders/checks/{unpaid.id}/cancel", data={"next": "https://evil.example/"}
    )
    assert cancel.headers["location"] == "/orders/checks"  # no open redirect
    async with db.sessionmaker() as s:
        order = await s.get(Order, unpaid.id)
        assert order is not None and order.status == OrderStatus.TRADE_CLOSED_BY_TAOBAO
        notes = (await s.scalars(select(OrderNote.body))).all()
        actions = set((await s.scalars(select(AuditEntry.action))).all())
    assert notes == ["已催付，买家说今晚付款"]
    assert {"order.add_note", "order.cancel"} <= actions
    # Cancelling again is refused with a message, not an error page.
    again = await agent.post(f"/orders/checks/{unpaid.id}/cancel", data={})
    assert again.status_code == 303
    page = await agent.get("/orders/checks")
    assert "不能取消" in page.text or "cannot" in page.text.lower() or "only orders" in page.text


async def test_ask_posts_into_the_latest_conversation(
    db: Database, shop: Shop, buy: Any, login_as: Any
) -> None:
    order = await buy(days_ago=1)
    await run_sweep(db)
    await _conversation(db, shop, minutes_ago=600)
    latest = await _conversation(db, shop, minutes_ago=5)
    async with db.sessionmaker() as s:
        task = await s.scalar(select(AddressConfirmation))
        assert task is not None

    agent = await login_as("agent")
    url = f"/orders/ask/address/{task.id}"
    first = await agent.post(url, data={"ask_no": "0", "next": "/orders/address-checks"})
    assert first.status_code == 303 and "copy=" not in first.headers["location"]
    # The same form submitted twice (double click) posts one message.
    await agent.post(url, data={"ask_no": "0", "next": "/orders/address-checks"})
    async with db.sessionmaker() as s:
        messages = (await s.scalars(select(Message))).all()
        task_after = await s.get(AddressConfirmation, task.id)
    assert len(messages) == 1
    assert messages[0].conversation_id == latest and messages[0].sender_kind == "agent"
    assert order.order_no in messages[0].body and "收货信息" in messages[0].body
    assert "13812345678" not in messages[0].body  # only the tail of the phone number
    assert task_after is not None and task_after.ask_count == 1
    assert task_after.asked_by_name == agent.user.display_name

    # Answering: the customer confirmed.
    done = await agent.post(
        f"/orders/address-checks/{task.id}/answer", data={"status": "confirmed"}
    )
    assert done.status_code == 303
    async with db.sessionmaker() as s:
        answered = await s.get(AddressConfirmation, task.id)
    assert answered is not None and answered.status == "confirmed"
    assert answered.recorded_by_name == agent.user.display_name


async def test_without_a_conversation_the_agent_gets_the_text_to_copy(
    db: Database, shop: Shop, buy: Any, login_as: Any
) -> None:
    await buy(days_ago=3)
    await buy(days_ago=1)
    await run_sweep(db)
    async with db.sessionmaker() as s:
        flag = await s.scalar(select(OrderFlag))
        assert flag is not None
    agent = await login_as("agent")
    response = await agent.post(
        f"/orders/ask/flag/{flag.id}", data={"ask_no": "0", "next": "/orders/flags"}
    )
    assert response.headers["location"] == f"/orders/flags?copy=flag-{flag.id}"
    page = await agent.get(response.headers["location"])
    assert "os-copy-text" in page.text and "重复下单" in page.text
    async with db.sessionmaker() as s:
        assert (await s.scalars(select(Message))).all() == []


async def test_resolving_a_duplicate_cancels_the_chosen_order(
    db: Database, shop: Shop, buy: Any, login_as: Any
) -> None:
    keep = await buy(days_ago=3)
    duplicate = await buy(days_ago=1)
    await run_sweep(db)
    async with db.sessionmaker() as s:
        flag = await s.scalar(select(OrderFlag))
        assert flag is not None
    agent = await login_as("agent")
    api = await agent.post(
        f"/api/v1/orderservice/flags/{flag.id}/resolve",
        json={
            "status": "cancelled_duplicate",
            "cancel_order_id": duplicate.id,
            "note": "买家确认重复",
        },
    )
    assert api.status_code == 200, api.text
    assert api.json()["status"] == "cancelled_duplicate"
    async with db.sessionmaker() as s:
        cancelled = await s.get(Order, duplicate.id)
        kept = await s.get(Order, keep.id)
    assert cancelled is not None and cancelled.status == OrderStatus.TRADE_CLOSED  # refunded
    assert kept is not None and kept.status == PAID
    bad = await agent.post(
        f"/api/v1/orderservice/flags/{flag.id}/resolve", json={"status": "merged"}
    )
    assert (
        bad.status_code == 422
        and bad.json()["title_en"] == "That outcome does not apply to this flag"
    )


async def test_merge_request_shows_on_each_order_and_notes_when_done(
    db: Database, shop: Shop, make_order: Any, login_as: Any
) -> None:
    a = await make_order(shop.store, shop.customer, status=PAID)
    b = await make_order(shop.store, shop.customer, status=PAID)
    elsewhere = await make_order(shop.store, shop.customer, status=PAID, city="宁波市")
    agent = await login_as("agent")
    panel = await agent.get(f"/orders/{a.id}/service-panel")
    assert b.order_no in panel.text and elsewhere.order_no not in panel.text  # same address only
    made = await agent.post(f"/orders/{a.id}/merge-request", data={"order_ids": [str(b.id)]})
    assert made.status_code == 303
    for order in (a, b):
        shown = await agent.get(f"/orders/{order.id}/service-panel")
        assert "合并发货" in shown.text or "Merge shipments" in shown.text
    refused = await agent.post(
        "/api/v1/orderservice/merge-requests", json={"order_ids": [a.id, elsewhere.id]}
    )
    assert refused.status_code == 422 and "地址不同" in refused.json()["title_zh"]
    async with db.sessionmaker() as s:
        flag = await s.scalar(select(OrderFlag).where(OrderFlag.kind == "merge_shipments"))
        assert flag is not None
    await agent.post(f"/orders/flags/{flag.id}/resolve", data={"status": "merged"})
    async with db.sessionmaker() as s:
        notes = (await s.scalars(select(OrderNote).order_by(OrderNote.order_id))).all()
        resolved = await s.get(OrderFlag, flag.id)
    assert [n.order_id for n in notes] == [a.id, b.id]
    assert all(n.body.startswith("合并发货") and b.order_no in n.body for n in notes)
    assert resolved is not None and resolved.status == "merged"


async def test_qa_reads_but_cannot_act(db: Database, shop: Shop, buy: Any, login_as: Any) -> None:
    await buy(days_ago=2)
    await run_sweep(db)
    async with db.sessionmaker() as s:
        task = await s.scalar(select(AddressConfirmation))
        assert task is not None
    qa = await login_as("qa")
    for url in ("/orders/checks", "/orders/flags", "/orders/stockouts", "/orders/address-checks"):
        response = await qa.get(url)
        assert response.status_code == 200, url
        assert "/orders/ask/" not in response.text  # no action forms for readers
    denied = [
        await qa.post(f"/orders/address-checks/{task.id}/answer", data={"status": "confirmed"}),
        await qa.post(f"/orders/ask/address/{task.id}", data={}),
        await qa.post(
            f"/api/v1/orderservice/address-confirmations/{task.id}/answer",
            json={"status": "confirmed"},
        ),
        await qa.get("/orders/service-settings"),
    ]
    assert [r.status_code for r in denied] == [403, 403, 403, 403]
    async with db.sessionmaker() as s:
        unchanged = await s.get(AddressConfirmation, task.id)
    assert unchanged is not None and unchanged.status == "pending"
    agent = await login_as("agent")
    assert (await agent.get("/orders/service-settings")).status_code == 403


async def test_store_settings_page(db: Database, shop: Shop, login_as: Any) -> None:
    admin = await login_as("admin")
    page = await admin.get("/orders/service-settings")
    assert page.status_code == 200 and shop.store.name in page.text
    saved = await admin.post(
        f"/orders/service-settings/{shop.store.id}",
        data={"duplicate_window_days": "3", "auto_ask": "1"},
    )
    assert saved.status_code == 303
    bad = await admin.post(
        f"/orders/service-settings/{shop.store.id}", data={"duplicate_window_days": "500"}
    )
    assert bad.status_code == 303
    async with db.sessionmaker() as s:
        store = await s.get(Store, shop.store.id)
    assert store is not None
    assert store.settings["orderservice"] == {"duplicate_window_days": 3, "auto_ask": True}
    follow = await admin.get("/orders/service-settings")
    assert "1–90" in follow.text


async def test_auto_ask_posts_when_detected(db: Database, shop: Shop, buy: Any) -> None:
    async with db.sessionmaker() as s:
        store = await s.get(Store, shop.store.id)
        assert store is not None
        store.settings = {"orderservice": {"duplicate_window_days": 7, "auto_ask": True}}
        await s.commit()
    conv = await _conversation(db, shop, minutes_ago=1)
    await buy(days_ago=1)
    await run_sweep(db)
    async with db.sessionmaker() as s:
        bodies = (
            await s.scalars(select(Message.body).where(Message.conversation_id == conv))
        ).all()
    assert len(bodies) == 1 and "收货信息" in bodies[0]
    assert (await run_sweep(db)).address_ids == []  # asked once, not on every sweep


async def test_stockout_answer_page(db: Database, shop: Shop, buy: Any, login_as: Any) -> None:
    await buy(days_ago=1)
    async with db.sessionmaker() as s:
        sku = await s.get(type(shop.sku), shop.sku.id)
        assert sku is not None
        sku.stock = 0
        await s.commit()
    await run_sweep(db)
    agent = await login_as("agent")
    page = await agent.get("/orders/stockouts")
    assert "纯棉连衣裙" in page.text and "DRESS-RED-M" in page.text
    async with db.sessionmaker() as s:
        case = await s.scalar(select(StockoutCase))
        assert case is not None
    bad = await agent.post(f"/orders/stockouts/{case.id}/answer", data={"choice": "maybe"})
    assert bad.status_code == 303
    async with db.sessionmaker() as s:
        assert (await s.get(StockoutCase, case.id)).choice is None  # type: ignore[union-attr]
    ok = await agent.post(f"/orders/stockouts/{case.id}/answer", data={"choice": "wait"})
    assert ok.status_code == 303
    answered = await agent.get("/orders/stockouts?answered=1")
    assert "等待补货" in answered.text or "Wait for restock" in answered.text
    async with db.sessionmaker() as s:
        assert await work.load_item(s, "stockout", case.id)


async def test_address_change_before_shipment_settles_the_task(
    db: Database, shop: Shop, buy: Any, login_as: Any
) -> None:
    order = await buy(days_ago=1)
    shipped = await buy(days_ago=20, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    await run_sweep(db)
    agent = await login_as("agent")
    panel = await agent.get(f"/orders/{order.id}/service-panel")
    assert f'action="/orders/{order.id}/address"' in panel.text
    new = {
        "receiver_name": "陈晓雨",
        "phone": "13900001111",
        "province": "上海市",
        "city": "上海市",
        "district": "徐汇区",
        "detail": "漕溪北路 88 号",
    }
    assert (await agent.post(f"/orders/{order.id}/address", data=new)).status_code == 303
    async with db.sessionmaker() as s:
        changed = await s.get(Order, order.id)
        task = await s.scalar(
            select(AddressConfirmation).where(AddressConfirmation.order_id == order.id)
        )
    assert changed is not None and (changed.city, changed.address_detail) == (
        "上海市",
        "漕溪北路 88 号",
    )
    assert task is not None and task.status == "changed"
    assert task.recorded_by_name == agent.user.display_name

    refused = await agent.post(f"/api/v1/orderservice/orders/{shipped.id}/address", json=new)
    assert refused.status_code == 409 and "不能修改地址" in refused.json()["title_zh"]
    shipped_panel = await agent.get(f"/orders/{shipped.id}/service-panel")
    assert "/address" not in shipped_panel.text
