"""The shell: home (工作台) and sections that later features fill in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kefu.accounts.deps import Require
from kefu.accounts.permissions import Permission
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, principal=Require(Permission.inbox_use)) -> HTMLResponse:  # type: ignore[no-untyped-def]
    return render(request, "web/home.html", {"section": "inbox"})
