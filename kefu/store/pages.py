"""Store pages: customers, customer 360, orders, import upload."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
