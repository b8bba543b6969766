"""Signed webhooks from the shop: one entity per delivery, applied exactly once.

The shop signs the raw request body with the store's `webhook_secret`:

    X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, body)>
    X-Kefu-Delivery:  <unique id of this delivery; retries reuse it>
    X-Kefu-Event:     order.upserted | product.upserted | customer.upserted | …

When the shop also sends `X-Kefu-Timestamp: <unix seconds>`, the signature covers
`"<timestamp>." + body` instead, and deliveries older than five minutes (or more than five
minutes in the future) are refused, so a captured request cannot be replayed later. The
signature is the only authentication; it is compared in constant time.

A delivery id is recorded in `webhook_deliveries` in the same transaction as the change it
carries, so a retried delivery answers `duplicate: true` and changes nothing; if applying
fails, the id is not recorded and the shop's retry is applied normally.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.core.db import utcnow
from kefu.core.errors import Invalid, KefuError, Unauthorized, field_errors
from kefu.store.models import Store, WebhookDelivery
from kefu.store.schemas import EntityKind, ItemResult
from kefu.store.service import IMPORTERS, get_store

MAX_SKEW = timedelta(minutes=5)
EVENTS: dict[str, EntityKind] = {f"{kind}.upserted": kind for kind in get_args(EntityKind)}


class BadSignature(Unauthorized):
    code = "bad_signature"
    zh, en = "Webhook 签名无效", "Invalid webhook signature"


class StaleDelivery(Unauthorized):
    code = "stale_delivery"
    zh, en = (
        "Webhook 时间戳已过期或不正确（允许误差 5 分钟）",
        "Webhook timestamp outside 5 minutes",
    )


@dataclass(frozen=True)
class WebhookResult:
    duplicate: bool
    event: str
    result: ItemResult | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": True, "duplicate": self.duplicate, "event": self.event}
        if self.result is not None:
            out["result"] = self.result.model_dump(mode="json")
        return out


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The header value a shop sends: `sha256=<hex>` (used by tests and docs too)."""
    message = f"{timestamp}.".encode() + body if timestamp else body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, body: bytes, signature: str | None, timestamp: str | None = None
) -> None:
    if timestamp is not None:
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise StaleDelivery() from exc
        if abs(utcnow().timestamp() - sent_at) > MAX_SKEW.total_seconds():
            raise StaleDelivery()
    expected = sign(secret, body, timestamp)
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise BadSignature()


async def receive_webhook(
    session: AsyncSession,
    *,
    store_code: str,
    body: bytes,
    signature: str | None,
    delivery_id: str | None,
    event: str | None,
    timestamp: str | None = None,
    ip: str | None = None,
) -> WebhookResult:
    store = await get_store(session, store_code)
    # Verify before anything else: an unsigned caller learns nothing about the payload rules.
    verify_signature(store.webhook_secret, body, signature, timestamp)
    if not store.is_active:
        raise KefuError(f"店铺 {store.code} 已停用", "The store is disabled", status=403)
    if not delivery_id or len(delivery_id) > 80:
        raise Invalid("缺少或过长的 X-Kefu-Delivery", "Missing or too long X-Kefu-Delivery")
    kind = EVENTS.get(event or "")
    if kind is None:
        raise Invalid(
            f"不支持的事件类型：{event}，可用：{', '.join(EVENTS)}",
            f"Unsupported event {event}; use one of {', '.join(EVENTS)}",
        )
    if await _seen(session, store, delivery_id):
        return WebhookResult(duplicate=True, event=event or "")
    model, importer = IMPORTERS[kind]
    try:
        payload = model.model_validate_json(body)
    except ValidationError as exc:
        raise Invalid(errors=field_errors(list(exc.errors()))) from exc
    try:
        async with session.begin_nested():
            session.add(
                WebhookDelivery(
                    store_id=store.id, delivery_id=delivery_id, event=event, received_at=utcnow()
                )
            )
    except IntegrityError:
        # The same delivery raced us in another request and won; it applies the change.
        return WebhookResult(duplicate=True, event=event or "")
    actor = Actor("webhook", None, f"store:{store.code}", ip)
    (result,) = await importer(session, actor, store, [(0, payload)], audit="each")
    if result.errors:
        raise Invalid(
            result.errors[0].message_zh,
            result.errors[0].message_en,
            errors=[e.model_dump() for e in result.errors],
        )
    return WebhookResult(duplicate=False, event=event or "", result=result)


async def _seen(session: AsyncSession, store: Store, delivery_id: str) -> bool:
    found = await session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.store_id == store.id, WebhookDelivery.delivery_id == delivery_id
        )
    )
    return found is not None
