"""Errors as pages for browsers: a person who follows a link they may not open sees a page in
their language with a way back, not JSON. API clients (and HTMX fragments) keep getting
problem+json from `kefu.core.errors`."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.accounts.deps import Principal, user_from_cookie_session
from kefu.accounts.permissions import permissions_for
from kefu.core.errors import KefuError
from kefu.core.i18n import gettext as _
from kefu.web.templating import pick, render


def wants_html(request: Request) -> bool:
    return (
        not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
        and request.headers.get("hx-request") != "true"
    )


def _heading(status: int) -> str:
    if status == 403:
        return _("You do not have access to this page")
    if status == 404:
        return _("Page not found")
    if status in (409, 422, 400):
        return _("This request could not be completed")
    return _("Something went wrong")


async def _signed_in(request: Request) -> None:
    """Routes that never ran (404) did not load the user; load it so the page keeps the shell."""
    if getattr(request.state, "principal", None) is not None or "session" not in request.scope:
        return
    if request.session.get("uid") is None:
        return
    try:
        async with request.app.state.db.sessionmaker() as session:
            user = await user_from_cookie_session(
                request.session, session, request.app.state.settings.session_max_age_s
            )
            await session.commit()
    except Exception:  # an error page must render even when the database does not answer
        return
    if user is not None:
        request.state.principal = Principal(user, permissions_for(user.role), "session")


async def error_page(request: Request, status: int, message: str) -> Response:
    await _signed_in(request)
    return render(
        request,
        "web/error.html",
        {"status": status, "heading": _heading(status), "message": message},
        status_code=status,
    )


async def _call(handler: Any, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    response: Response = result
    return response


def install_html_errors(app: FastAPI) -> None:
    """Call after `install_error_handlers`: browsers get pages, everyone else what they got."""
    json_kefu = app.exception_handlers[KefuError]
    json_http = app.exception_handlers[StarletteHTTPException]

    async def _kefu(request: Request, exc: Exception) -> Response:
        if wants_html(request) and isinstance(exc, KefuError):
            return await error_page(request, exc.status, pick(exc.zh, exc.en))
        return await _call(json_kefu, request, exc)

    async def _http(request: Request, exc: Exception) -> Response:
        if (
            wants_html(request)
            and isinstance(exc, StarletteHTTPException)
            and exc.status_code in (403, 404, 405)
        ):
            message = (
                pick("您要找的页面不存在或已被移走。", "The page does not exist or has moved.")
                if exc.status_code == 404
                else pick("无法完成此请求。", "This request cannot be completed.")
            )
            return await error_page(request, exc.status_code, message)
        return await _call(json_http, request, exc)

    json_unexpected = app.exception_handlers[Exception]

    async def _unexpected(request: Request, exc: Exception) -> Response:
        response = await _call(json_unexpected, request, exc)  # logs it
        if not wants_html(request):
            return response
        try:
            return await error_page(
                request,
                500,
                pick(
                    "服务器出了点问题，我们已记录下来。请稍后重试；您填写的内容可返回上一页找回。",
                    "Something broke on our side and was logged. Please try again later; "
                    "go back to find what you typed.",
                ),
            )
        except Exception:  # the page itself failed: the problem+json still says what happened
            return response

    app.add_exception_handler(KefuError, _kefu)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
