"""The knowledge pages as people use them: agents read, supervisors and QA edit; forms keep
what was typed; history shows every version; import/export through the UI and the API; the
public help center lists and searches only what is live, and never renders a script."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from kefu.core.db import Database, utcnow
from kefu.knowledge.models import Faq
from tests.fixtures.factories import LoginAs
from tests.knowledge.conftest import MakeFaq
from tests.store.conftest import MakeStore


def _faq_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "question": "什么时候发货？",
        "similar": ["付款后多久发货", "今天能发吗"],
        "answer": "付款后**48小时**内发货。",
        "category": "售前",
        "scope": "all",
        "enabled": "on",
        "version": "0",
    }
    form.update(overrides)
    return form


async def test_supervisor_creates_edits_and_sees_history(login_as: LoginAs, db: Database) -> None:
    sup = await login_as("supervisor")
    created = await sup.post("/knowledge/faqs/new", data=_faq_form())
    assert created.status_code == 303
    url = created.headers["location"]
    page = await sup.get(url)
    assert page.status_code == 200
    assert "什么时候发货？" in page.text
    faq_id = int(url.rsplit("/", 1)[1])
    async with db.sessionmaker() as s:
        faq = await s.get(Faq, faq_id)
        assert faq is not None and faq.similar == ["付款后多久发货", "今天能发吗"]
        assert faq.answer_html == "<p>付款后<strong>48小时</strong>内发货。</p>"

    saved = await sup.post(
        url, data=_faq_form(answer="付款后24小时内发货。", similar=["今天能发吗"], version="1")
    )
    assert saved.status_code == 303
    # A stale form (version 1 again) is refused with the typed text kept.
    stale = await sup.post(url, data=_faq_form(answer="我的旧草稿", version="1"))
    assert stale.status_code == 409
    assert "已被" in stale.text and "我的旧草稿" in stale.text

    history = await sup.get(f"/knowledge/faqs/{faq_id}/history")
    assert history.status_code == 200
    assert "第 2 版" in history.text and "第 1 版" in history.text
    assert "付款后24小时内发货。" in history.text and "付款后**48小时**内发货。" in history.text

    disabled = await sup.post(f"/knowledge/faqs/{faq_id}/disable")
    assert disabled.status_code == 303
    listing = await sup.get("/knowledge?state=disabled")
    assert "什么时候发货？" in listing.text
    assert "什么时候发货？" not in (await sup.get("/knowledge?state=active")).text

    deleted = await sup.post(f"/knowledge/faqs/{faq_id}/delete")
    assert deleted.status_code == 303
    assert (await sup.get(url)).status_code == 404
    async with db.sessionmaker() as s:
        faq = await s.get(Faq, faq_id)
        assert faq is not None and faq.deleted_at is not None and faq.version == 4


async def test_invalid_form_is_shown_again_with_messages(login_as: LoginAs) -> None:
    qa = await login_as("qa")
    response = await qa.post(
        "/knowledge/faqs/new",
        data=_faq_form(
            question="",
            scope="some",
            valid_from="2026-12-01T00:00",
            valid_until="2026-11-01T00:00",
        ),
    )
    assert response.status_code == 422
    assert json.dumps(["付款后多久发货", "今天能发吗"]) in response.text  # nothing typed is lost
    assert "必填" in response.text or "太短" in response.text


async def test_agent_reads_but_cannot_edit(
    login_as: LoginAs, make_faq: MakeFaq, client: httpx.AsyncClient
) -> None:
    faq = await make_faq()
    agent = await login_as("agent")
    listing = await agent.get("/knowledge")
    assert listing.status_code == 200 and "包邮吗？" in listing.text
    assert "/knowledge/faqs/new" not in listing.text
    view = await agent.get(f"/knowledge/faqs/{faq.id}")
    assert view.status_code == 200 and 'data-testid="faq-form"' not in view.text
    for method, url, body in (
        ("GET", "/knowledge/faqs/new", None),
        ("POST", "/knowledge/faqs/new", _faq_form()),
        ("POST", f"/knowledge/faqs/{faq.id}", _faq_form()),
        ("POST", f"/knowledge/faqs/{faq.id}/disable", None),
        ("POST", f"/knowledge/faqs/{faq.id}/delete", None),
        ("GET", "/knowledge/import", None),
        ("POST", "/knowledge/articles/new", {"title": "x"}),
    ):
        response = await agent.request(method, url, data=body)
        assert response.status_code == 403, (method, url)
    api = await agent.post("/api/v1/knowledge/faqs", json={"question": "q", "answer": "a"})
    assert api.status_code == 403
    assert (await agent.get("/api/v1/knowledge/faqs")).status_code == 200
    assert (await client.get("/api/v1/knowledge/faqs")).status_code == 401


async def test_script_in_an_answer_never_reaches_a_page(
    login_as: LoginAs, make_store: MakeStore, client: httpx.AsyncClient
) -> None:
    store = await make_store(code="safe-shop")
    sup = await login_as("supervisor")
    evil = (
        '包邮<script>alert("x")</script><img src="https://img.example.com/a.png" '
        'onerror="alert(1)"> [点这里](javascript:alert(2)) '
        '<a href="https://ok.example.com">好链接</a>'
    )
    created = await sup.post(
        "/knowledge/faqs/new", data=_faq_form(question="<b>包邮</b>吗？", answer=evil)
    )
    assert created.status_code == 303
    editor = await sup.get(created.headers["location"])
    listing = await sup.get("/knowledge")
    help_page = await client.get(f"/help/{store.code}")
    for page in (editor, listing, help_page):
        assert page.status_code == 200
        assert "<b>包邮</b>" not in page.text  # the question is text, not HTML
        assert 'href="javascript' not in page.text
    for page in (listing, help_page):
        assert "<script>alert" not in page.text and "onerror" not in page.text
    # The editor shows the source text, escaped inside the textarea.
    assert "&lt;script&gt;alert" in editor.text and "<script>alert" not in editor.text
    assert '<a href="https://ok.example.com" target="_blank"' in help_page.text
    assert '<img src="https://img.example.com/a.png">' in help_page.text
    preview = await sup.post("/knowledge/preview", data={"text": evil})
    assert "<script" not in preview.text and "onerror" not in preview.text


async def test_help_center_is_public_and_shows_only_live_entries(
    client: httpx.AsyncClient, make_store: MakeStore, make_faq: MakeFaq
) -> None:
    await make_store(code="camellia", name="山茶花服饰旗舰店", service_phone="400-820-1234")
    other = await make_store(code="other")
    now = utcnow()
    await make_faq(question="什么时候发货？", similar=["多久发货"], answer="48小时内发货。")
    await make_faq(question="能开发票吗？", answer="可以开电子发票。", category="售后")
    await make_faq(question="已停用的问题", answer="x", enabled=False)
    await make_faq(question="过期活动", answer="x", valid_until=now - timedelta(hours=1))
    await make_faq(question="别家店的问题", answer="x", all_stores=False, store_ids=[other.id])
    await make_faq(question="只给邮件的回答", answer="x", channels=["email"])
    await make_faq(question="帮助中心专用", answer="只在帮助中心显示", channels=["help"])

    page = await client.get("/help/camellia")
    assert page.status_code == 200
    assert "山茶花服饰旗舰店" in page.text and "400-820-1234" in page.text
    for shown in ("什么时候发货？", "能开发票吗？", "帮助中心专用", "售后"):
        assert shown in page.text
    for hidden in ("已停用的问题", "过期活动", "别家店的问题", "只给邮件的回答"):
        assert hidden not in page.text

    search = await client.get("/help/camellia", params={"q": "发票怎么开"})
    assert search.status_code == 200
    results = search.text.split('data-testid="hc-results"')[1].split("</section>")[0]
    assert "能开发票吗？" in results and "什么时候发货？" not in results
    assert "可以开电子发票。" in results

    nothing = await client.get("/help/camellia", params={"q": "火星快递"})
    assert 'data-testid="hc-no-results"' in nothing.text
    assert "什么时候发货？" in nothing.text  # the full list is still offered

    xss = await client.get("/help/camellia", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in xss.text

    assert (await client.get("/help/no-such-shop")).status_code == 404


async def test_import_and_export_through_the_ui_and_api(
    login_as: LoginAs, kb_bytes: bytes, db: Database
) -> None:
    sup = await login_as("supervisor")
    page = await sup.get("/knowledge/import")
    assert page.status_code == 200
    done = await sup.post(
        "/knowledge/import", files={"file": ("kb.json", kb_bytes, "application/json")}
    )
    assert done.status_code == 200
    assert re.search(r"37\s*</span>", done.text)
    listing = await sup.get("/knowledge?category=售后")
    assert "怎么申请退货" in listing.text or "退" in listing.text

    again = await sup.post(
        "/api/v1/knowledge/faqs/import", files={"file": ("kb.json", kb_bytes, "application/json")}
    )
    assert again.status_code == 200
    assert again.json()["unchanged"] == 37 and again.json()["created"] == 0

    bad = json.dumps([{"id": "Z1", "question": "好问题", "answer": "好答案"}, {"id": "Z2"}])
    refused = await sup.post(
        "/knowledge/import", files={"file": ("bad.json", bad.encode(), "application/json")}
    )
    assert refused.status_code == 422
    assert "未导入任何数据" in refused.text
    assert "标准问题不能为空" in refused.text
    api_refused = await sup.post(
        "/api/v1/knowledge/faqs/import",
        files={"file": ("bad.json", bad.encode(), "application/json")},
    )
    assert api_refused.status_code == 422
    assert api_refused.json()["errors"][0]["row"] == 2
    skipped = await sup.post(
        "/api/v1/knowledge/faqs/import",
        files={"file": ("bad.json", bad.encode(), "application/json")},
        data={"skip_invalid": "true"},
    )
    assert skipped.status_code == 200 and skipped.json()["created"] == 1

    not_json = await sup.post(
        "/knowledge/import", files={"file": ("x.json", b"{oops", "application/json")}
    )
    assert not_json.status_code == 422 and "不是有效的 JSON" in not_json.text

    exported = await sup.get("/knowledge/export.json")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert len(exported.json()) == 38
    xlsx = await sup.get("/api/v1/knowledge/faqs/export", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 39

    agent = await login_as("agent")
    assert (await agent.get("/knowledge/export.xlsx")).status_code == 200
    assert (
        await agent.post(
            "/api/v1/knowledge/faqs/import",
            files={"file": ("kb.json", kb_bytes, "application/json")},
        )
    ).status_code == 403
    async with db.sessionmaker() as s:
        assert len((await s.scalars(select(Faq))).all()) == 38


async def test_api_crud(login_as: LoginAs, make_store: MakeStore) -> None:
    store = await make_store(code="api-shop")
    qa = await login_as("qa")
    created = await qa.post(
        "/api/v1/knowledge/faqs",
        json={
            "question": "支持七天无理由吗？",
            "similar": ["能退吗"],
            "answer": "支持，签收后7天内。",
            "all_stores": False,
            "store_ids": [store.id],
            "channels": ["web", "h5"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["store_ids"] == [store.id] and body["status"] == "active"
    faq_id = body["id"]
    bad = await qa.post("/api/v1/knowledge/faqs", json={"question": "", "answer": "a"})
    assert bad.status_code == 422 and bad.json()["title_zh"]
    updated = await qa.put(
        f"/api/v1/knowledge/faqs/{faq_id}",
        params={"expected_version": 1},
        json={"question": "支持七天无理由吗？", "answer": "支持。", "all_stores": True},
    )
    assert updated.status_code == 200 and updated.json()["version"] == 2
    conflict = await qa.put(
        f"/api/v1/knowledge/faqs/{faq_id}",
        params={"expected_version": 1},
        json={"question": "x", "answer": "y"},
    )
    assert conflict.status_code == 409
    off = await qa.post(f"/api/v1/knowledge/faqs/{faq_id}/enabled", json={"enabled": False})
    assert off.json()["status"] == "disabled"
    history = await qa.get(f"/api/v1/knowledge/faqs/{faq_id}/history")
    assert [v["action"] for v in history.json()] == ["disable", "update", "create"]
    assert (await qa.delete(f"/api/v1/knowledge/faqs/{faq_id}")).status_code == 204
    assert (await qa.get(f"/api/v1/knowledge/faqs/{faq_id}")).status_code == 404

    article = await qa.post(
        "/api/v1/knowledge/articles",
        json={"title": "大衣保养", "body": "只能**干洗**", "tags": ["羊绒"]},
    )
    assert article.status_code == 201
    art_id = article.json()["id"]
    page = await qa.get(f"/knowledge/articles/{art_id}")
    assert "<strong>干洗</strong>" in page.text
    listing = await qa.get("/knowledge/articles", params={"tag": "羊绒"})
    assert "大衣保养" in listing.text
