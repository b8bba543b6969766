"""An unexpected failure: browsers get a page in their language, API clients problem+json,
and neither sees a stack trace."""

from __future__ import annotations

import httpx
from fastapi import FastAPI


async def test_unexpected_error_is_a_page_for_browsers_and_json_for_the_api(app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError("secret detail from deep inside")

    app.add_api_route("/boom-page", boom, methods=["GET", "POST"])
    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.post(
            "/boom-page", headers={"accept": "text/html", "accept-language": "zh-CN"}
        )
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "服务器出了点问题" in page.text
        assert "secret detail" not in page.text and "Traceback" not in page.text

        api = await client.get("/api/v1/boom", headers={"accept": "text/html"})
        assert api.status_code == 500
        assert api.json()["code"] == "internal" and "secret detail" not in api.text
