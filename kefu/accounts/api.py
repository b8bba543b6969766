"""Accounts JSON API."""

from __future__ import annotations

from fastapi import APIRouter

from kefu.accounts.deps import CurrentPrincipal

router = APIRouter(tags=["accounts"])


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, object]:
    return {
        "id": principal.user.id,
        "username": principal.user.username,
        "display_name": principal.user.display_name,
        "role": principal.user.role,
        "permissions": sorted(principal.permissions),
    }
