"""The customer list and the Customer 360: search, masking by role, reveal, notes and tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select

from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.enums import OrderStatus
from kefu.store.models import (
    Address,
    Customer,
    CustomerIdentity,
    CustomerNote,
    LogisticsEvent,
    Refund,
    Review,
    Shipment,
    Store,
)
from tests.fixtures.factories import LoginAs
from tests.store.conftest import MakeCustomer, MakeOrder, MakeStore

PHONE = "13812345678"
ADDRESS_DETAIL = "文三路 100 号 3 幢 201 室"


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessionmaker() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows)


async def _profile(
    db: Database, make_store: MakeStore, make_customer: MakeCustomer, make_order: MakeOrder
) -> tuple[Store, Customer]:
    """A VIP customer with an address, two channels, three orders, a shipment and a review."""
    store = await make_store(name="优衣旗舰店", timezone="Asia/Shanghai")
    customer = await make_customer(
        store,
        name="张三丰",
        nickname="小张爱买衣服",
        phone=PHONE,
        email="zhangsan@example.com",
        tier="vip",
        tags=["回头客", "尺码偏大"],
        city="杭州市",
    )
    base = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    paid = await make_order(
        store,
        customer,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        items=[{"title": "羊毛大衣", "unit_price": "599.00", "sku_desc": "驼色 L"}],
        placed_at=base,
        address_detail=ADDRESS_DETAIL,
        order_no="T2026110100001",
    )
    refunded = await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_CLOSED,
        items=[{"title": "纯棉T恤", "unit_price": "99.00"}],
        placed_at=base - timedelta(days=10),
        refunded_amount=Decimal("99.00"),
        address_detail=ADDRESS_DETAIL,
    )
    await make_order(
        store,
        customer,
        status=OrderStatus.WAIT_BUYER_PAY,
        placed_at=base + timedelta(days=1),
        address_detail=ADDRESS_DETAIL,
    )
    async with db.sessionmaker() as s:
        s.add(
            Address(
                customer_id=customer.id,
                receiver_name="张三丰",
                phone=PHONE,
                province="浙江省",
                city="杭州市",
                district="西湖区",
                detail=ADDRESS_DETAIL,
                is_default=True,
            )
        )
        s.add_all(
            [
                CustomerIdentity(
                    store_id=store.id,
                    customer_id=customer.id,
                    channel="taobao",
                    external_user_id="tb_xiaozhang",
                    display="小张爱买衣服",
                ),
                CustomerIdentity(
                    store_id=store.id,
                    customer_id=customer.id,
                    channel="sms",
                    external_user_id=PHONE,
                    display=PHONE,
                ),
            ]
        )
        shipment = Shipment(
            order_id=paid.id,
            carrier="顺丰速运",
            tracking_no="SF1234567890",
            status="in_transit",
            shipped_at=base + timedelta(hours=20),
        )
        s.add(shipment)
        await s.flush()
        s.add_all(
            [
                LogisticsEvent(
                    shipment_id=shipment.id,
                    occurred_at=base + timedelta(hours=20),
                    location="杭州",
                    description="快件已揽收",
                    status="in_transit",
                ),
                LogisticsEvent(
                    shipment_id=shipment.id,
                    occurred_at=base + timedelta(hours=30),
                    location="上海转运中心",
                    description="快件已到达上海转运中心",
                    status="in_transit",
                ),
            ]
        )
        s.add(
            Refund(
                order_id=refunded.id,
                amount=Decimal("99.00"),
                reason="尺码不合适",
                idempotency_key=f"rf-{refunded.id}",
                created_at=base,
            )
        )
        s.add(
            Review(
                store_id=store.id,
                external_id=f"R{customer.id}",
                order_id=refunded.id,
                customer_id=customer.id,
                rating=2,
                content="衣服偏大，客服态度不错",
                reviewed_at=base,
            )
        )
        await s.commit()
    return store, customer


async def test_agent_sees_customer_360_with_masked_pii(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    agent = await login_as("agent")

    response = await agent.get(f"/customers/{customer.id}")

    assert response.status_code == 200
    html = response.text
    assert "138****5678" in html
    assert "张**" in html
    assert "浙江省 杭州市 西湖区 ******" in html
    # No raw personal data anywhere in the page, not even in attributes or scripts.
    assert PHONE not in html
    assert "张三丰" not in html
    assert "文三路" not in html
    assert "zhangsan@example.com" not in html
    # Agents may not reveal, so no reveal forms are offered.
    assert "/reveal" not in html
    # Profile, stats, channels, orders with Chinese statuses, timeline, review.
    assert "小张爱买衣服" in html
    assert "VIP" in html
    assert "回头客" in html
    assert "¥599.00" in html  # lifetime value: only paid amounts count
    assert "¥99.00" in html  # refund total
    assert "卖家已发货" in html
    assert "交易关闭（已退款）" in html
    assert "等待买家付款" in html
    assert "顺丰速运" in html and "快件已到达上海转运中心" in html
    assert "衣服偏大" in html
    # The shop's time zone: 02:30 UTC is 10:30 in Shanghai.
    assert "2026-11-01 10:30" in html
    # Newest order first.
    assert html.index("等待买家付款") < html.index("卖家已发货") < html.index("交易关闭")


async def test_supervisor_reveal_returns_value_and_audits_each_time(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    supervisor = await login_as("supervisor")

    page = await supervisor.get(f"/customers/{customer.id}")
    assert PHONE not in page.text  # masked by default for every role
    assert f"/customers/{customer.id}/reveal" in page.text

    first = await supervisor.post(f"/customers/{customer.id}/reveal", data={"field": "phone"})
    assert first.status_code == 200
    assert first.json() == {"field": "phone", "value": PHONE}
    assert first.headers["cache-control"] == "no-store"

    fragment = await supervisor.post(
        f"/customers/{customer.id}/reveal", data={"field": "phone"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert PHONE in fragment.text and "<html" not in fragment.text

    entries = await _audit(db, "customer.pii_revealed")
    assert len(entries) == 2
    assert all(e.entity_id == str(customer.id) and e.after == {"field": "phone"} for e in entries)
    assert all(e.actor_id == supervisor.user.id for e in entries)  # type: ignore[attr-defined]


async def test_supervisor_reveals_address_and_name(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    supervisor = await login_as("supervisor")
    async with db.sessionmaker() as s:
        address_id = await s.scalar(select(Address.id).where(Address.customer_id == customer.id))

    name = await supervisor.post(f"/customers/{customer.id}/reveal", data={"field": "name"})
    address = await supervisor.post(
        f"/customers/{customer.id}/reveal",
        data={"field": "address", "address_id": str(address_id)},
    )

    assert name.json()["value"] == "张三丰"
    assert ADDRESS_DETAIL in address.json()["value"]
    fields = sorted(e.after["field"] for e in await _audit(db, "customer.pii_revealed"))  # type: ignore[index]
    assert fields == ["address", "name"]


async def test_reveal_rejects_unknown_field_and_foreign_address(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store, customer = await _profile(db, make_store, make_customer, make_order)
    other = await make_customer(store)
    supervisor = await login_as("supervisor")
    async with db.sessionmaker() as s:
        address_id = await s.scalar(select(Address.id).where(Address.customer_id == customer.id))

    bad = await supervisor.post(f"/customers/{customer.id}/reveal", data={"field": "password"})
    foreign = await supervisor.post(
        f"/customers/{other.id}/reveal", data={"field": "address", "address_id": str(address_id)}
    )

    assert bad.status_code == 422
    assert bad.json()["title_zh"] == "不支持显示该字段"
    assert foreign.status_code == 404
    assert await _audit(db, "customer.pii_revealed") == []


async def test_agent_reveal_is_forbidden_and_not_audited(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    agent = await login_as("agent")

    response = await agent.post(f"/customers/{customer.id}/reveal", data={"field": "phone"})

    assert response.status_code == 403
    assert PHONE not in response.text
    assert await _audit(db, "customer.pii_revealed") == []


async def test_reveal_needs_csrf_token(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    supervisor = await login_as("supervisor")
    del supervisor.headers["X-CSRF-Token"]

    response = await supervisor.post(f"/customers/{customer.id}/reveal", data={"field": "phone"})

    assert response.status_code == 403
    assert PHONE not in response.text


async def test_signed_out_visitor_is_sent_to_login(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(await make_store())

    response = await client.get(f"/customers/{customer.id}", headers={"Accept": "text/html"})

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_agent_adds_note_audited(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    agent = await login_as("agent")

    plain = await agent.post(f"/customers/{customer.id}/notes", data={"body": "  喜欢宽松版型  "})
    htmx = await agent.post(
        f"/customers/{customer.id}/notes",
        data={"body": "双十一前会再来问尺码"},
        headers={"HX-Request": "true"},
    )

    assert plain.status_code == 303
    assert plain.headers["location"] == f"/customers/{customer.id}#notes"
    assert htmx.status_code == 200
    assert "双十一前会再来问尺码" in htmx.text and "喜欢宽松版型" in htmx.text
    async with db.sessionmaker() as s:
        notes = list(await s.scalars(select(CustomerNote).order_by(CustomerNote.id)))
    assert [n.body for n in notes] == ["喜欢宽松版型", "双十一前会再来问尺码"]
    assert notes[0].author_id == agent.user.id  # type: ignore[attr-defined]
    entries = await _audit(db, "customer.note_added")
    assert len(entries) == 2
    assert entries[0].after == {"note_id": notes[0].id, "body": "喜欢宽松版型"}
    page = await agent.get(f"/customers/{customer.id}")
    assert "喜欢宽松版型" in page.text


async def test_empty_note_is_refused_with_a_message(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    agent = await login_as("agent")

    plain = await agent.post(f"/customers/{customer.id}/notes", data={"body": "   "})
    htmx = await agent.post(
        f"/customers/{customer.id}/notes", data={"body": ""}, headers={"HX-Request": "true"}
    )

    assert plain.status_code == 422
    assert "备注内容不能为空" in plain.text and "小张爱买衣服" in plain.text
    assert htmx.status_code == 200 and "备注内容不能为空" in htmx.text
    assert await _audit(db, "customer.note_added") == []


async def test_qa_cannot_add_notes(
    db: Database, login_as: LoginAs, make_store: MakeStore, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(await make_store())
    qa = await login_as("qa")

    response = await qa.post(f"/customers/{customer.id}/notes", data={"body": "hello"})

    assert response.status_code == 403


async def test_tags_edit_is_audited(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _profile(db, make_store, make_customer, make_order)
    agent = await login_as("agent")

    response = await agent.post(
        f"/customers/{customer.id}/tags",
        data={"tags": "回头客，怕冷、 回头客 , 送礼"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "怕冷" in response.text
    async with db.sessionmaker() as s:
        saved = await s.get(Customer, customer.id)
        assert saved is not None and saved.tags == ["回头客", "怕冷", "送礼"]
    [entry] = await _audit(db, "customer.tags_changed")
    assert entry.before == {"tags": ["回头客", "尺码偏大"]}
    assert entry.after == {"tags": ["回头客", "怕冷", "送礼"]}


async def test_too_long_tag_is_refused(
    db: Database, login_as: LoginAs, make_store: MakeStore, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(await make_store(), tags=["老客户"])
    agent = await login_as("agent")

    response = await agent.post(f"/customers/{customer.id}/tags", data={"tags": "长" * 30})

    assert response.status_code == 422
    assert "太长" in response.text
    async with db.sessionmaker() as s:
        saved = await s.get(Customer, customer.id)
        assert saved is not None and saved.tags == ["老客户"]


async def test_unknown_customer_is_404(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    response = await agent.get("/customers/999999")
    assert response.status_code == 404
    assert response.json()["title_zh"] == "找不到该客户"


async def test_orders_on_the_360_are_paged(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store = await make_store()
    customer = await make_customer(store)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(23):
        await make_order(
            store, customer, placed_at=start + timedelta(days=i), order_no=f"NO{i:04d}"
        )
    agent = await login_as("agent")

    first = await agent.get(f"/customers/{customer.id}")
    second = await agent.get(f"/customers/{customer.id}?orders_page=2")

    assert "NO0022" in first.text and "NO0003" in first.text and "NO0002" not in first.text
    assert "orders_page=2" in first.text
    assert "NO0002" in second.text and "NO0000" in second.text and "NO0003" not in second.text
    assert "¥2,277.00" in first.text  # lifetime value over all 23 orders, not just the page


# --- the list -------------------------------------------------------------------------------


async def test_customer_search(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store, customer = await _profile(db, make_store, make_customer, make_order)
    other = await make_customer(
        store, name="李四", nickname="lisi_2024", phone="13900009999", email="li@example.cn"
    )
    agent = await login_as("agent")

    async def found(**params: str) -> set[int]:
        response = await agent.get("/customers", params=params)
        assert response.status_code == 200
        if PHONE not in params.values():  # the search box echoes what was typed
            assert PHONE not in response.text  # masked in the list too
        return {c.id for c in (customer, other) if f'href="/customers/{c.id}"' in response.text}

    assert await found(q="5678") == {customer.id}  # phone tail
    assert await found(q="9999") == {other.id}
    assert await found(q=PHONE) == {customer.id}  # full phone
    assert await found(q="T2026110100001") == {customer.id}  # order number
    assert await found(q="张三") == {customer.id}  # name
    assert await found(q="LISI") == {other.id}  # nickname, any case
    assert await found(q="li@example.cn") == {other.id}  # email
    assert await found(q="回头客") == {customer.id}  # tag
    assert await found(tag="尺码偏大") == {customer.id}
    assert await found(tier="vip") == {customer.id}
    assert await found(q="nobody-here") == set()


async def test_customer_list_filters_by_store_and_sorts_by_last_order(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    a = await make_store(name="甲店")
    b = await make_store(name="乙店")
    old = await make_customer(a, nickname="old_buyer")
    recent = await make_customer(a, nickname="recent_buyer")
    never = await make_customer(a, nickname="never_bought")
    elsewhere = await make_customer(b, nickname="other_shop")
    await make_order(a, old, placed_at=datetime(2025, 1, 1, tzinfo=UTC))
    await make_order(a, recent, placed_at=datetime(2026, 11, 1, tzinfo=UTC))
    agent = await login_as("agent")

    response = await agent.get("/customers", params={"store": str(a.id)})

    html = response.text
    assert elsewhere.nickname not in html
    assert html.index("recent_buyer") < html.index("old_buyer") < html.index(never.nickname)


async def test_customer_list_ignores_bad_filter_values(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    response = await agent.get("/customers?store=abc&tier=gold&page=-3&q=")
    assert response.status_code == 200


async def test_customer_list_pages(
    db: Database, login_as: LoginAs, make_store: MakeStore, make_customer: MakeCustomer
) -> None:
    store = await make_store()
    for i in range(27):
        await make_customer(store, nickname=f"buyer_{i:02d}")
    agent = await login_as("agent")

    first = await agent.get("/customers")
    second = await agent.get("/customers?page=2")

    assert first.text.count('class="row-link"') == 25
    assert second.text.count('class="row-link"') == 2
    assert "page=2" in first.text
