"""Store administration pages: stores with webhook secrets, and the file import upload."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.importer import template_csv
from kefu.store.models import Order, Store
from tests.fixtures.factories import LoginAs
from tests.store.conftest import MakeStore, MakeTokenClient

HTML = {"accept": "text/html"}


async def _store(db: Database, code: str) -> Store | None:
    async with db.sessionmaker() as s:
        return await s.scalar(select(Store).where(Store.code == code))


async def test_admin_creates_store_and_rotates_secret(db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    page = await admin.get("/settings/stores", headers=HTML)
    assert page.status_code == 200
    created = await admin.post(
        "/settings/stores",
        data={
            "code": "tmall-main",
            "name": "天猫旗舰店",
            "platform": "tmall",
            "timezone": "Asia/Shanghai",
            "service_phone": "400-800-1234",
            "return_address": "杭州市余杭区 售后部",
        },
    )
    assert created.status_code == 303
    store = await _store(db, "tmall-main")
    assert store is not None and store.platform == "tmall"
    listing = await admin.get("/settings/stores", headers=HTML)
    assert "天猫旗舰店" in listing.text and store.webhook_secret in listing.text

    old = store.webhook_secret
    rotated = await admin.post(f"/settings/stores/{store.id}/rotate-secret")
    assert rotated.status_code == 303
    after = await _store(db, "tmall-main")
    assert after is not None and after.webhook_secret != old
    async with db.sessionmaker() as s:
        actions = set(
            await s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "store"))
        )
        entry = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "store.rotate_webhook_secret")
        )
    assert {"store.create", "store.rotate_webhook_secret"} <= actions
    assert entry is not None and old not in str(entry.before) and old not in str(entry.after)


async def test_store_form_errors_are_shown_in_chinese(
    db: Database, login_as: LoginAs, make_store: MakeStore
) -> None:
    await make_store("taken")
    admin = await login_as("admin")
    bad = await admin.post(
        "/settings/stores", data={"code": "Bad Code!", "name": "", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422
    assert "店铺代码：格式不正确" in bad.text and "时区：未知的时区" in bad.text
    dup = await admin.post("/settings/stores", data={"code": "taken", "name": "重复"})
    assert dup.status_code == 409 and "店铺代码 taken 已被使用" in dup.text


async def test_only_store_managers_see_store_admin(login_as: LoginAs) -> None:
    supervisor = await login_as("supervisor")
    assert (await supervisor.get("/settings/stores", headers=HTML)).status_code == 403
    assert (
        await supervisor.post("/settings/stores", data={"code": "x1", "name": "x"})
    ).status_code == 403
    agent = await login_as("agent")
    assert (await agent.get("/settings/import", headers=HTML)).status_code == 403


async def test_upload_import_report_and_template(
    db: Database, login_as: LoginAs, make_store: MakeStore
) -> None:
    await make_store("up")
    supervisor = await login_as("supervisor")
    page = await supervisor.get("/settings/import", headers=HTML)
    assert page.status_code == 200 and "订单号" in page.text
    template = await supervisor.get("/settings/import/template.csv")
    assert template.status_code == 200 and template.content == template_csv()

    files = {"file": ("订单.csv", template_csv(), "text/csv")}
    done = await supervisor.post("/settings/import", data={"store": "up"}, files=files)
    assert done.status_code == 200, done.text
    assert 'data-testid="import-report"' in done.text
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 1

    broken = template_csv().decode("utf-8-sig").replace(",1,199.00,", ",0,199.00,")
    files = {"file": ("bad.csv", broken.encode(), "text/csv")}
    report = await supervisor.post("/settings/import", data={"store": "up"}, files=files)
    assert report.status_code == 422
    assert re.search(
        r"<td class=\"mono\">2</td><td>数量</td><td>数量应为大于 0 的整数", report.text
    )

    files = {"file": ("orders.pdf", b"%PDF", "application/pdf")}
    wrong = await supervisor.post("/settings/import", data={"store": "up"}, files=files)
    assert wrong.status_code == 422 and "只支持 .csv 和 .xlsx 文件" in wrong.text


async def test_upload_needs_csrf_token(
    app: object, login_as: LoginAs, make_store: MakeStore
) -> None:
    await make_store("csrf")
    supervisor = await login_as("supervisor")
    bare = httpx.AsyncClient(
        transport=supervisor._transport, base_url="http://testserver", cookies=supervisor.cookies
    )
    files = {"file": ("订单.csv", template_csv(), "text/csv")}
    refused = await bare.post("/settings/import", data={"store": "csrf"}, files=files)
    assert refused.status_code == 403
    token = supervisor.headers["X-CSRF-Token"]
    accepted = await bare.post(
        "/settings/import", data={"store": "csrf", "csrf_token": token}, files=files
    )
    assert accepted.status_code == 200
    await bare.aclose()


async def test_store_api_for_admin_tokens(db: Database, token_client: MakeTokenClient) -> None:
    admin = await token_client("admin", ["stores.manage"])
    created = await admin.post(
        "/api/v1/stores", json={"code": "jd-main", "name": "京东自营", "platform": "jd"}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert secret.startswith("whsec_")
    listed = (await admin.get("/api/v1/stores")).json()
    assert [s["code"] for s in listed] == ["jd-main"] and "webhook_secret" not in listed[0]
    rotated = await admin.post("/api/v1/stores/jd-main/webhook-secret:rotate")
    assert rotated.json()["webhook_secret"] not in ("", secret)
    dup = await admin.post("/api/v1/stores", json={"code": "jd-main", "name": "x"})
    assert dup.status_code == 409
    importer = await token_client("supervisor", ["store.import"])
    assert (await importer.get("/api/v1/stores")).status_code == 403
