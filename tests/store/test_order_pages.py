"""The order list (filters, search) and the order detail (masking, logistics, refunds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.enums import OrderStatus
from kefu.store.models import LogisticsEvent, Order, OrderNote, Refund, Shipment
from tests.fixtures.factories import LoginAs
from tests.store.conftest import MakeCustomer, MakeOrder, MakeStore

RECEIVER_PHONE = "13698761234"


def _listed(html: str, *orders: Order) -> set[str]:
    return {o.order_no for o in orders if f'href="/orders/{o.id}"' in html}


async def test_order_list_filters(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    a = await make_store(name="甲店")
    b = await make_store(name="乙店")
    alice = await make_customer(a, name="王小美", nickname="meimei", phone="13700001111")
    bob = await make_customer(b, name="赵大", nickname="dazhao", phone="13500002222")
    # 2026-11-10 23:30 in Shanghai is 15:30 UTC: it belongs to the 10th, not the 11th.
    late = await make_order(
        a,
        alice,
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        placed_at=datetime(2026, 11, 10, 15, 30, tzinfo=UTC),
        order_no="A0001001",
        receiver_phone=RECEIVER_PHONE,
    )
    finished = await make_order(
        a,
        alice,
        status=OrderStatus.TRADE_FINISHED,
        placed_at=datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        order_no="A0001002",
    )
    other = await make_order(
        b,
        bob,
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        placed_at=datetime(2026, 11, 11, 4, 0, tzinfo=UTC),
        order_no="B0002001",
    )
    everything = (late, finished, other)
    agent = await login_as("agent")

    async def listed(**params: str) -> set[str]:
        response = await agent.get("/orders", params=params)
        assert response.status_code == 200
        return _listed(response.text, *everything)

    assert await listed() == {"A0001001", "A0001002", "B0002001"}
    assert await listed(store=str(a.id)) == {"A0001001", "A0001002"}
    assert await listed(status="TRADE_FINISHED") == {"A0001002"}
    assert await listed(q="B0002001") == {"B0002001"}  # order number
    assert await listed(q="1234") == {"A0001001"}  # receiver phone tail
    assert await listed(q="2222") == {"B0002001"}  # customer phone tail
    assert await listed(q="meimei") == {"A0001001", "A0001002"}  # customer nickname
    assert await listed(q="王小") == {"A0001001", "A0001002"}  # customer name
    assert await listed(customer=str(bob.id)) == {"B0002001"}
    assert await listed(date_from="2026-11-10", date_to="2026-11-10") == {"A0001001"}
    assert await listed(date_from="2026-11-11") == {"B0002001"}
    assert await listed(date_to="2026-11-05") == {"A0001002"}
    assert await listed(store=str(a.id), status="WAIT_SELLER_SEND_GOODS") == {"A0001001"}


async def test_order_list_masks_and_labels(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store = await make_store()
    customer = await make_customer(store, name="王小美", phone="13700001111")
    await make_order(
        store, customer, status=OrderStatus.TRADE_FINISHED, receiver_phone=RECEIVER_PHONE
    )
    agent = await login_as("agent")

    html = (await agent.get("/orders")).text

    assert "交易成功" in html
    assert "136****1234" in html and RECEIVER_PHONE not in html
    assert "王**" in html and "王小美" not in html


async def test_order_list_explains_bad_dates_instead_of_failing(login_as: LoginAs) -> None:
    agent = await login_as("agent")

    bad = await agent.get("/orders", params={"date_from": "11/10/2026", "store": ""})
    reversed_range = await agent.get(
        "/orders", params={"date_from": "2026-11-10", "date_to": "2026-11-01"}
    )

    assert bad.status_code == 200
    assert "2026-11-23" in bad.text  # the message shows the expected format
    assert reversed_range.status_code == 200
    assert 'role="alert"' in reversed_range.text


async def test_order_list_pages(
    db: Database, login_as: LoginAs, make_store: MakeStore, make_order: MakeOrder
) -> None:
    store = await make_store()
    start = datetime(2026, 10, 1, tzinfo=UTC)
    orders = [
        await make_order(store, placed_at=start + timedelta(hours=i), order_no=f"P{i:05d}")
        for i in range(32)
    ]
    agent = await login_as("agent")

    first = await agent.get("/orders", params={"store": str(store.id)})
    second = await agent.get("/orders", params={"store": str(store.id), "page": "2"})

    assert len(_listed(first.text, *orders)) == 30
    assert _listed(second.text, *orders) == {"P00001", "P00000"}
    assert f"store={store.id}&amp;page=2" in first.text  # the pager keeps the filters


async def test_order_detail(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store = await make_store(name="北京小店", timezone="Asia/Shanghai")
    customer = await make_customer(store, name="刘备", nickname="xuande", phone="13911112222")
    placed = datetime(2026, 11, 20, 16, 5, tzinfo=UTC)  # 00:05 on the 21st in Beijing
    order = await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_BUYER_SIGNED,
        items=[
            {"title": "蚕丝被", "unit_price": "899.00", "sku_desc": "200x230cm"},
            {"title": "枕套", "unit_price": "59.00", "quantity": 2},
        ],
        placed_at=placed,
        receiver_name="刘备",
        receiver_phone="13911112222",
        address_detail="中关村大街 1 号",
        district="海淀区",
        city="北京市",
        province="北京",
        buyer_message="请周末送货，电话 13911112222",
        refunded_amount=Decimal("59.00"),
    )
    async with db.sessionmaker() as s:
        shipment = Shipment(
            order_id=order.id, carrier="中通快递", tracking_no="ZT778899", status="delivered"
        )
        s.add(shipment)
        await s.flush()
        s.add_all(
            [
                LogisticsEvent(
                    shipment_id=shipment.id,
                    occurred_at=placed + timedelta(days=1),
                    location="北京",
                    description="快件已揽收",
                ),
                LogisticsEvent(
                    shipment_id=shipment.id,
                    occurred_at=placed + timedelta(days=2),
                    location="海淀",
                    description="已签收，签收人：本人",
                    status="delivered",
                ),
                Refund(
                    order_id=order.id,
                    amount=Decimal("59.00"),
                    reason="枕套颜色不符",
                    idempotency_key=f"r-{order.id}",
                    created_at=placed + timedelta(days=3),
                ),
                OrderNote(
                    order_id=order.id,
                    author="小李",
                    body="已联系顾客确认退款",
                    created_at=placed + timedelta(days=3),
                ),
            ]
        )
        await s.commit()
    agent = await login_as("agent")

    response = await agent.get(f"/orders/{order.id}")

    assert response.status_code == 200
    html = response.text
    for text in ("蚕丝被", "200x230cm", "枕套", "¥1,017.00", "买家已签收", "中通快递"):
        assert text in html
    assert "已签收，签收人：本人" in html and "快件已揽收" in html
    assert html.index("已签收，签收人") < html.index("快件已揽收")  # newest event first
    assert "枕套颜色不符" in html and "已联系顾客确认退款" in html
    assert "2026-11-21 00:05" in html  # shop time zone
    assert "139****2222" in html and "刘*" in html and "北京 北京市 海淀区 ******" in html
    assert "13911112222" not in html  # not even inside the buyer's message
    assert "刘备" not in html and "中关村" not in html
    assert "/reveal" not in html


async def test_order_receiver_reveal(
    db: Database,
    login_as: LoginAs,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    store = await make_store()
    customer = await make_customer(store, name="孙权", phone="13600003333")
    order = await make_order(store, customer, receiver_name="孙权", receiver_phone="13600003333")
    agent = await login_as("agent")
    supervisor = await login_as("supervisor")

    denied = await agent.post(f"/orders/{order.id}/reveal")
    page = await supervisor.get(f"/orders/{order.id}")
    shown = await supervisor.post(f"/orders/{order.id}/reveal", headers={"HX-Request": "true"})

    assert denied.status_code == 403
    assert "13600003333" not in page.text and f"/orders/{order.id}/reveal" in page.text
    assert shown.status_code == 200
    assert "孙权 13600003333" in shown.text and "文三路 100 号" in shown.text
    async with db.sessionmaker() as s:
        [entry] = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.pii_revealed")
        )
    assert entry.entity_type == "order" and entry.entity_id == str(order.id)
    assert entry.after is not None and entry.after["field"] == "receiver"


async def test_unknown_order_is_404(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    response = await agent.get("/orders/424242")
    assert response.status_code == 404
    assert response.json()["title_zh"] == "找不到该订单"


async def test_qa_reads_orders_but_cannot_reveal(
    db: Database, login_as: LoginAs, make_store: MakeStore, make_order: MakeOrder
) -> None:
    order = await make_order(await make_store())
    qa = await login_as("qa")

    assert (await qa.get(f"/orders/{order.id}")).status_code == 200
    assert (await qa.post(f"/orders/{order.id}/reveal")).status_code == 403
