"""HTML pages: list with filters and bulk actions, new ticket form, detail actions, settings."""

from __future__ import annotations

import re

from kefu.accounts.permissions import Role
from tests.fixtures.factories import LoginAs
from tests.tickets.conftest import Shop


def _csrf(client: object) -> str:
    return str(client.headers["X-CSRF-Token"])  # type: ignore[attr-defined]


async def _new(client: object, **fields: str) -> int:
    data = {"csrf_token": _csrf(client), "subject": "收到的杯子碎了", "type_code": "complaint"}
    data.update(fields)
    r = await client.post("/tickets/new", data=data)  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    match = re.match(r"/tickets/(\d+)$", r.headers["location"])
    assert match
    return int(match.group(1))


async def test_new_ticket_form_and_detail(login_as: LoginAs, shop: Shop) -> None:
    agent = await login_as(Role.agent)
    page = await agent.get("/tickets/new")
    assert page.status_code == 200 and "投诉" in page.text
    tid = await _new(agent, order_no=shop.order.order_no, description="要求补发，不然去12315")
    detail = await agent.get(f"/tickets/{tid}")
    assert detail.status_code == 200
    text = detail.text
    assert "收到的杯子碎了" in text and "GD" in text
    assert "张**" in text and "138****5678" in text  # PII masked for agents
    assert shop.order.order_no in text
    assert "12315" in text  # high-risk words shown on the complaint panel
    assert 'data-due="' in text  # live SLA timer


async def test_new_ticket_errors_keep_the_input(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    r = await agent.post(
        "/tickets/new",
        data={"csrf_token": _csrf(agent), "subject": "发票", "order_no": "NOPE-1"},
    )
    assert r.status_code == 422
    assert "找不到订单号 NOPE-1" in r.text and 'value="发票"' in r.text


async def test_contact_is_masked_even_for_supervisors(login_as: LoginAs, shop: Shop) -> None:
    """Unmasking happens only through the audited reveal on the customer's page."""
    sup = await login_as(Role.supervisor)
    tid = await _new(sup, customer_id=str(shop.customer.id))
    page = (await sup.get(f"/tickets/{tid}")).text
    assert "13812345678" not in page
    assert "138****5678" in page
    assert f"/customers/{shop.customer.id}" in page


async def test_detail_actions_flow(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    tid = await _new(agent, type_code="logistics", subject="物流停滞")
    token = _csrf(agent)
    r = await agent.post(
        f"/tickets/{tid}/reply", data={"csrf_token": token, "body": "已联系快递", "mode": "reply"}
    )
    assert r.status_code == 303
    await agent.post(
        f"/tickets/{tid}/reply", data={"csrf_token": token, "body": "内部跟进", "mode": "note"}
    )
    await agent.post(
        f"/tickets/{tid}/tasks",
        data={"csrf_token": token, "title": "查询中转站", "due_at": "2026-11-24T12:00"},
    )
    # An invalid transition is explained on the page, not as an error screen.
    r = await agent.post(f"/tickets/{tid}/transition", data={"csrf_token": token, "status": "new"})
    assert r.status_code == 303
    page = (await agent.get(f"/tickets/{tid}")).text
    assert "工单状态不能从「处理中」改为「新建」" in page
    assert "已联系快递" in page and "内部跟进" in page and "查询中转站" in page
    assert "物流" in page  # the hand-off went to the logistics department by default


async def test_list_filters_views_and_bulk(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    a = await _new(agent, subject="顺丰延误", type_code="logistics")
    b = await _new(agent, subject="发票抬头错了", type_code="invoice")
    token = _csrf(agent)
    page = await agent.get("/tickets")
    assert page.status_code == 200 and "顺丰延误" in page.text and "发票抬头错了" in page.text
    only = await agent.get("/tickets", params={"q": "顺丰"})
    assert "顺丰延误" in only.text and "发票抬头错了" not in only.text
    odd = await agent.get("/tickets", params={"sort": "sideways", "page": "x"})
    assert odd.status_code == 200
    r = await agent.post(
        "/tickets/views",
        data={"csrf_token": token, "name": "物流工单", "type_code": "logistics"},
    )
    assert r.status_code == 303
    listing = (await agent.get(r.headers["location"])).text
    assert "物流工单" in listing and "顺丰延误" in listing and "发票抬头错了" not in listing
    r = await agent.post(
        "/tickets/bulk",
        data={
            "csrf_token": token,
            "ticket_ids": [str(a), str(b)],
            "action": "tag",
            "value": "加急",
        },
    )
    assert r.status_code == 303
    tagged = (await agent.get("/tickets", params={"tag": "加急"})).text
    assert "顺丰延误" in tagged and "发票抬头错了" in tagged


async def test_settings_pages(login_as: LoginAs) -> None:
    admin = await login_as(Role.admin)
    token = _csrf(admin)
    page = await admin.get("/settings/tickets")
    assert page.status_code == 200 and "春节" in page.text and "调休" in page.text
    r = await admin.post(
        "/settings/tickets/types",
        data={"csrf_token": token, "code": "price_protect", "name_zh": "价保",
              "fields": "order_price 下单价格*"},
    )  # fmt: skip
    assert r.status_code == 303
    r = await admin.post(
        "/settings/tickets/calendar",
        data={"csrf_token": token, "day": "2026-11-11", "kind": "holiday", "name": "店庆"},
    )
    r = await admin.post(
        "/settings/tickets/general",
        data={"csrf_token": token, "day_start": "08:30", "day_end": "22:00", "warn_ratio": "0.7",
              "limit_agent": "80", "limit_supervisor": "800", "repeat_window_days": "30",
              "follow_up_delay_hours": "24", "high_risk_words": "12315 工商 律师 曝光 媒体",
              "weekdays": ["0", "1", "2", "3", "4", "5"]},
    )  # fmt: skip
    assert r.status_code == 303
    text = (await admin.get("/settings/tickets")).text
    assert "价保" in text and "店庆" in text and 'value="08:30"' in text and "媒体" in text
    bad = await admin.post(
        "/settings/tickets/calendar", data={"csrf_token": token, "day": "明天", "kind": "holiday"}
    )
    assert bad.status_code == 303
    assert "请填写日期" in (await admin.get("/settings/tickets")).text
