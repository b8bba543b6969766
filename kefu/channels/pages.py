"""Public customer pages: the embeddable `/widget.js` loader and the H5 chat `/chat/{channel}`.

No sign-in: these are on the explicit public allow-list (`/chat`, `/widget.js`). The H5 page
may be framed by any site (the widget does exactly that), so it sends `frame-ancestors *`
instead of the app-wide SAMEORIGIN rule.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError

from kefu.channels import identity
from kefu.channels.settings import clean_color, widget_settings
from kefu.conversations.cards import ProductCard
from kefu.core.config import get_settings
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError
from kefu.web.templating import STATIC_DIR, render

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)

WIDGET_JS = STATIC_DIR / "widget" / "widget.js"
VISITOR_COOKIE_AGE = 365 * 24 * 3600


@router.get("/widget.js")
async def widget_js() -> Response:
    return FileResponse(
        WIDGET_JS,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


def _product(raw: str | None) -> dict[str, Any] | None:
    """The product the shop's page passed (JSON in `?product=`), if it is a valid card.

    A broken value only loses the 发送商品 offer; the chat itself must still open."""
    if not raw:
        return None
    try:
        return ProductCard.model_validate_json(raw[:4000]).model_dump()
    except ValidationError:
        log.info("widget_product_invalid")
        return None


@router.get("/chat/{channel}", response_class=HTMLResponse)
async def chat_page(request: Request, channel: str, session: DbSession) -> Response:
    params = request.query_params
    try:
        store = await identity.store_by_channel(session, channel)
        uid = params.get("uid") or ""
        if uid:
            identity.verify_identity(store, uid, params.get("uid_hash") or "")
    except KefuError as exc:
        response = render(
            request, "channels/chat_error.html", {"error": exc}, status_code=exc.status
        )
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
        return response
    look = widget_settings(store)
    if params.get("color"):
        look["color"] = clean_color(params.get("color"), look["color"])
    if params.get("greeting"):
        look["greeting"] = (params.get("greeting") or "")[:200]
    token = request.cookies.get(identity.VISITOR_COOKIE)
    if identity.visitor_id_from(token) is None:
        token = identity.new_visitor_token()
    config = {
        **look,
        "embed": params.get("embed") == "1",
        "uid": uid,
        "uid_hash": params.get("uid_hash") or "",
        "name": (params.get("name") or "")[:64],
        "page": (params.get("page") or "")[:500],
        "topic": (params.get("topic") or "")[:32],
        "visitor_token": token,
        "product": _product(params.get("product")),
        "upload_max": get_settings().upload_max_bytes,
    }
    response = render(
        request,
        "channels/chat.html",
        {"config": config, "look": look, "help_url": f"/help/{quote(store.code)}"},
    )
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        identity.VISITOR_COOKIE,
        str(token),
        max_age=VISITOR_COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
