"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kefu.accounts import service
from kefu.accounts.deps import verify_csrf
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "accounts/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    await verify_csrf(request)
    try:
        user = await service.authenticate(session, username.strip(), password)
    except KefuError as exc:
        await session.commit()  # keep the failure count even though we answer with an error
        return render(
            request,
            "accounts/login.html",
            {"next": _safe_next(next), "error": exc, "username": username},
            status_code=exc.status,
        )
    request.session.clear()
    request.session["uid"] = user.id
    request.session["sv"] = user.session_version
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await verify_csrf(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
