"""After-sales pages: agents' case list and detail, the warehouse view."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
