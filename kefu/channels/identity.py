"""Who is chatting: anonymous visitors and customers the shop vouches for.

An anonymous visitor holds a random id signed with the server secret (cookie `kefu_visitor`
on the H5 page, localStorage in the widget); only its SHA-256 is stored, so a database leak
does not let anyone impersonate a visitor.

A signed-in shopper is identified by the shop's own backend, which computes
`identifier_hash = hex(HMAC_SHA256(widget_secret, external_user_id))` and puts both values in
the page (the same scheme as Chatwoot's identity validation). The widget secret is the
store's `settings["widget_secret"]` if set, else its webhook secret. A hash that does not
match is refused: nobody can read another shopper's chat by guessing their user id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.service import Contact
from kefu.core.audit import Actor, record_audit
from kefu.core.config import get_settings
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, NotFound
from kefu.store.models import Customer, CustomerIdentity, Store

VISITOR_COOKIE = "kefu_visitor"
IDENTITY_CHANNEL = "web"


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    zh, en = "找不到该客服入口，请检查店铺代码", "No chat channel with that code"


class IdentityRefused(Forbidden):
    code = "identity_invalid"
    zh = "身份校验失败，请重新登录店铺后再联系客服"
    en = "Identity verification failed; sign in to the shop again"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key.get_secret_value(), salt="kefu.visitor")


def new_visitor_token() -> str:
    return _serializer().dumps(secrets.token_urlsafe(18))


def visitor_id_from(token: str | None) -> str | None:
    """The visitor id inside a token we signed, or None if absent or tampered with."""
    if not token:
        return None
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and value else None


def visitor_hash(visitor_id: str) -> str:
    return hashlib.sha256(visitor_id.encode()).hexdigest()


def widget_secret(store: Store) -> str:
    configured = (store.settings or {}).get("widget_secret")
    return str(configured) if configured else store.webhook_secret


def identifier_hash(secret: str, external_user_id: str) -> str:
    """What the shop's backend computes; documented in docs/chat.md with Python and Node."""
    return hmac.new(secret.encode(), external_user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(store: Store, external_user_id: str, given_hash: str) -> None:
    expected = identifier_hash(widget_secret(store), external_user_id)
    if not given_hash or not hmac.compare_digest(expected, given_hash.strip().lower()):
        raise IdentityRefused()


async def store_by_channel(session: AsyncSession, code: str) -> Store:
    store = await session.scalar(select(Store).where(Store.code == code))
    if store is None or not store.is_active:
        raise ChannelNotFound()
    return store


async def identified_customer(
    session: AsyncSession, store: Store, external_user_id: str, name: str
) -> Customer:
    """The customer behind a verified shop user id, linked through a `web` identity.

    The shop's user id is usually the id its order export uses for the buyer, so an existing
    customer with that external id is linked (their orders appear beside the chat); otherwise
    a customer is created.
    """
    identity = await session.scalar(
        select(CustomerIdentity).where(
            CustomerIdentity.store_id == store.id,
            CustomerIdentity.channel == IDENTITY_CHANNEL,
            CustomerIdentity.external_user_id == external_user_id,
        )
    )
    if identity is not None:
        customer = await session.get(Customer, identity.customer_id)
        if customer is not None:
            return customer
    customer = await session.scalar(
        select(Customer).where(
            Customer.store_id == store.id, Customer.external_id == external_user_id
        )
    )
    actor = Actor("customer", None, name or external_user_id)
    if customer is None:
        customer = Customer(
            store_id=store.id,
            external_id=external_user_id,
            nickname=name[:64],
            first_seen_at=utcnow(),
        )
        session.add(customer)
        await session.flush()
        await record_audit(
            session,
            actor,
            "customer.create",
            "customer",
            customer.id,
            after={"external_id": external_user_id, "source": "chat_identity"},
            store_id=store.id,
        )
    identity = CustomerIdentity(
        store_id=store.id,
        customer_id=customer.id,
        channel=IDENTITY_CHANNEL,
        external_user_id=external_user_id,
        display=name[:128],
    )
    session.add(identity)
    await session.flush()
    await record_audit(
        session,
        actor,
        "customer.identity_link",
        "customer",
        customer.id,
        after={"channel": IDENTITY_CHANNEL, "external_user_id": external_user_id},
        store_id=store.id,
    )
    return customer


async def resolve_contact(
    session: AsyncSession,
    store: Store,
    *,
    visitor_token: str | None,
    user_id: str | None = None,
    user_hash: str | None = None,
    name: str = "",
) -> tuple[Contact, str]:
    """The contact for a connecting browser and the visitor token it should keep.

    Raises `IdentityRefused` when a user id comes with a wrong hash, before touching data.
    """
    name = name.strip()[:64]
    if user_id:
        verify_identity(store, user_id, user_hash or "")
    visitor_id = visitor_id_from(visitor_token)
    token = visitor_token if visitor_id else new_visitor_token()
    visitor_id = visitor_id or visitor_id_from(token)
    assert visitor_id is not None  # a token we just signed always opens
    customer_id = None
    if user_id:
        customer = await identified_customer(session, store, user_id, name)
        customer_id = customer.id
        name = name or customer.nickname or customer.name
    contact = Contact(
        store_id=store.id,
        visitor_hash=visitor_hash(visitor_id),
        customer_id=customer_id,
        name=name,
    )
    return contact, str(token)
