"""Store data JSON API: import (upsert) endpoints, signed webhooks and store administration.

Import routes need `store.import` (for API tokens: the scope); stores are addressed by their
`code`. `PUT …/{kind}/{external_id}` upserts one entity and answers 201 when it was created;
`POST …/{kind}:batch` takes `{"items": [...]}` and reports each item's outcome.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.config import get_settings
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid
from kefu.store import service, webhooks
from kefu.store.schemas import (
    BatchIn,
    BatchResult,
    CustomerIn,
    EntityKind,
    ItemResult,
    OrderIn,
    Outcome,
    ProductIn,
    ReviewIn,
    ShipmentIn,
    StoreCreate,
)

router = APIRouter(tags=["store"])

Importer = Annotated[Principal, Require(Permission.store_import)]
StoreAdmin = Annotated[Principal, Require(Permission.stores_manage)]


async def _put(
    session: DbSession,
    principal: Principal,
    response: Response,
    store_code: str,
    kind: EntityKind,
    payload: BaseModel,
    path_id: str,
    body_id: str,
) -> ItemResult:
    if path_id != body_id:
        raise Invalid(
            f"路径中的编号 {path_id} 与请求体中的 {body_id} 不一致",
            f"Id in the path ({path_id}) differs from the body ({body_id})",
        )
    store = await service.get_active_store(session, store_code)
    result = await service.import_one(session, principal.actor, store, kind, payload)
    response.status_code = 201 if result.outcome == Outcome.created else 200
    return result


async def _batch(
    session: DbSession, principal: Principal, store_code: str, kind: EntityKind, body: BatchIn
) -> BatchResult:
    service.check_batch_size(len(body.items), get_settings().import_batch_max)
    store = await service.get_active_store(session, store_code)
    return await service.import_batch(session, principal.actor, store, kind, body.items)


@router.put("/stores/{store}/orders/{external_id}", status_code=200)
async def put_order(
    store: str, external_id: str, payload: OrderIn, session: DbSession, principal: Importer,
    response: Response,
) -> ItemResult:  # fmt: skip
    """Create or update one order (with its lines) by the shop's order id."""
    return await _put(
        session, principal, response, store, "order", payload, external_id, payload.external_id
    )


@router.post("/stores/{store}/orders:batch")
async def batch_orders(
    store: str, body: BatchIn, session: DbSession, principal: Importer
) -> BatchResult:
    return await _batch(session, principal, store, "order", body)


@router.put("/stores/{store}/products/{external_id}", status_code=200)
async def put_product(
    store: str, external_id: str, payload: ProductIn, session: DbSession, principal: Importer,
    response: Response,
) -> ItemResult:  # fmt: skip
    return await _put(
        session, principal, response, store, "product", payload, external_id, payload.external_id
    )


@router.post("/stores/{store}/products:batch")
async def batch_products(
    store: str, body: BatchIn, session: DbSession, principal: Importer
) -> BatchResult:
    return await _batch(session, principal, store, "product", body)


@router.put("/stores/{store}/customers/{external_id}", status_code=200)
async def put_customer(
    store: str, external_id: str, payload: CustomerIn, session: DbSession, principal: Importer,
    response: Response,
) -> ItemResult:  # fmt: skip
    return await _put(
        session, principal, response, store, "customer", payload, external_id, payload.external_id
    )


@router.post("/stores/{store}/customers:batch")
async def batch_customers(
    store: str, body: BatchIn, session: DbSession, principal: Importer
) -> BatchResult:
    return await _batch(session, principal, store, "customer", body)


@router.put("/stores/{store}/reviews/{external_id}", status_code=200)
async def put_review(
    store: str, external_id: str, payload: ReviewIn, session: DbSession, principal: Importer,
    response: Response,
) -> ItemResult:  # fmt: skip
    return await _put(
        session, principal, response, store, "review", payload, external_id, payload.external_id
    )


@router.post("/stores/{store}/reviews:batch")
async def batch_reviews(
    store: str, body: BatchIn, session: DbSession, principal: Importer
) -> BatchResult:
    return await _batch(session, principal, store, "review", body)


@router.put("/stores/{store}/shipments/{tracking_no}", status_code=200)
async def put_shipment(
    store: str, tracking_no: str, payload: ShipmentIn, session: DbSession, principal: Importer,
    response: Response,
) -> ItemResult:  # fmt: skip
    """Create or update one shipment of an order, keyed by its tracking number."""
    return await _put(
        session, principal, response, store, "shipment", payload, tracking_no, payload.tracking_no
    )


@router.post("/stores/{store}/shipments:batch")
async def batch_shipments(
    store: str, body: BatchIn, session: DbSession, principal: Importer
) -> BatchResult:
    return await _batch(session, principal, store, "shipment", body)


# ----------------------------------------------------------------------------- webhooks


@router.post("/stores/{store}/webhooks")
async def receive_webhook(
    store: str,
    request: Request,
    session: DbSession,
    x_kefu_signature: Annotated[str | None, Header()] = None,
    x_kefu_delivery: Annotated[str | None, Header()] = None,
    x_kefu_event: Annotated[str | None, Header()] = None,
    x_kefu_timestamp: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Signed by the shop (HMAC-SHA256 with the store's webhook secret); no user sign-in."""
    body = await request.body()
    result = await webhooks.receive_webhook(
        session,
        store_code=store,
        body=body,
        signature=x_kefu_signature,
        delivery_id=x_kefu_delivery,
        event=x_kefu_event,
        timestamp=x_kefu_timestamp,
        ip=request.client.host if request.client else None,
    )
    return result.as_json()


# ----------------------------------------------------------------------------- stores


def _store_json(store: Any, *, secret: bool = False) -> dict[str, Any]:
    out = {
        "id": store.id,
        "code": store.code,
        "name": store.name,
        "platform": store.platform,
        "timezone": store.timezone,
        "return_address": store.return_address,
        "service_phone": store.service_phone,
        "is_active": store.is_active,
    }
    if secret:
        out["webhook_secret"] = store.webhook_secret
    return out


@router.get("/stores")
async def list_stores(session: DbSession, principal: StoreAdmin) -> list[dict[str, Any]]:
    return [_store_json(s) for s in await service.list_stores(session)]


@router.post("/stores", status_code=201)
async def create_store(
    data: StoreCreate, session: DbSession, principal: StoreAdmin
) -> dict[str, Any]:
    """Creates a store; the answer carries its webhook secret."""
    store = await service.create_store(session, principal.actor, data)
    return _store_json(store, secret=True)


@router.post("/stores/{store}/webhook-secret:rotate")
async def rotate_secret(store: str, session: DbSession, principal: StoreAdmin) -> dict[str, Any]:
    found = await service.get_store(session, store)
    rotated = await service.rotate_webhook_secret(session, principal.actor, found.id)
    return _store_json(rotated, secret=True)
