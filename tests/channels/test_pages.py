"""Public customer pages: the widget loader (size budget), the H5 chat, refused identities."""

from __future__ import annotations

import gzip

import httpx

from kefu.channels import identity
from kefu.store.models import Store
from kefu.web.templating import STATIC_DIR

WIDGET_BUDGET = 30 * 1024  # gzipped bytes, for everything a shop's page and the chat load


def test_widget_and_chat_client_fit_the_size_budget() -> None:
    files = ["widget/widget.js", "widget/chat.js", "widget/chat.css"]
    total = sum(len(gzip.compress((STATIC_DIR / f).read_bytes(), 9)) for f in files)
    assert total <= WIDGET_BUDGET, f"{total} bytes gzipped"


async def test_widget_js_is_public_and_cacheable(client: httpx.AsyncClient) -> None:
    response = await client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "max-age" in response.headers["cache-control"]
    assert "KefuChat" in response.text


async def test_chat_page_is_public_frameable_and_sets_a_visitor(
    client: httpx.AsyncClient, chat_store: Store
) -> None:
    response = await client.get(f"/chat/{chat_store.code}", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "优衣小铺旗舰店" in response.text and "在线客服" in response.text
    assert response.headers["content-security-policy"] == "frame-ancestors *"
    token = response.cookies.get(identity.VISITOR_COOKIE)
    assert token and identity.visitor_id_from(token)
    config = (await client.get("/api/v1/widget/config", params={"channel": chat_store.code})).json()
    assert config["title"] == "优衣小铺旗舰店" and config["color"].startswith("#")
    # The store's FAQ is one tap away: the help centre, in a new tab from the embedded widget.
    assert f'href="/help/{chat_store.code}"' in response.text
    help_page = await client.get(f"/help/{chat_store.code}", headers={"accept": "text/html"})
    assert help_page.status_code == 200
    embedded = await client.get(f"/chat/{chat_store.code}?embed=1")
    assert 'id="kf-help"' in embedded.text and 'target="_blank"' in embedded.text


async def test_store_settings_shape_the_chat(client: httpx.AsyncClient, make_store: object) -> None:
    store = await make_store(  # type: ignore[operator]
        code="blue-shop",
        settings={
            "widget": {"color": "#ff5000", "greeting": "亲，欢迎来到小蓝店", "position": "left"}
        },
    )
    config = (await client.get("/api/v1/widget/config", params={"channel": store.code})).json()
    assert config["color"] == "#ff5000" and config["position"] == "left"
    page = await client.get("/chat/blue-shop?color=javascript:alert(1)")
    assert "亲，欢迎来到小蓝店" in page.text
    assert "--brand: #ff5000" in page.text  # a bad colour from the URL is ignored


async def test_unknown_channel_and_forged_identity_are_refused_in_chinese(
    client: httpx.AsyncClient, chat_store: Store
) -> None:
    missing = await client.get("/chat/no-such-shop")
    assert missing.status_code == 404 and "找不到该客服入口" in missing.text
    forged = await client.get(f"/chat/{chat_store.code}", params={"uid": "U1", "uid_hash": "abc"})
    assert forged.status_code == 403 and "身份校验失败" in forged.text
    signed = identity.identifier_hash(chat_store.webhook_secret, "U1")
    ok = await client.get(f"/chat/{chat_store.code}", params={"uid": "U1", "uid_hash": signed})
    assert ok.status_code == 200
    config = await client.get("/api/v1/widget/config", params={"channel": "nope"})
    assert (
        config.status_code == 404
        and config.json()["title_zh"] == "找不到该客服入口，请检查店铺代码"
    )
