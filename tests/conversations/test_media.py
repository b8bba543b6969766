"""Images, product cards and order cards in a chat: checked, cleaned, only where they belong."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from kefu.channels import identity
from kefu.conversations import cards, media, service
from kefu.conversations.models import ChatImage, Conversation, Message
from kefu.core import jobs
from kefu.core.config import get_settings
from kefu.core.db import Database
from kefu.core.uploads import ImageTooLarge, clean_image
from kefu.store.models import Customer, Order, Product, Store
from tests.fixtures.factories import LoginAs

GPS_TAG = 0x8825


def photo(width: int = 1200, height: int = 900, fmt: str = "JPEG", exif: bool = True) -> bytes:
    """A noisy picture (so it does not compress to nothing) with a GPS position in its EXIF."""
    image = Image.effect_noise((width, height), 60).convert("RGB")
    out = io.BytesIO()
    extra: dict[str, Any] = {}
    if exif:
        tags = Image.Exif()
        tags[0x010F] = "KefuPhone"  # camera make
        tags[GPS_TAG] = {1: "N", 2: (30.0, 16.0, 12.0), 3: "E", 4: (120.0, 9.0, 36.0)}
        extra["exif"] = tags.tobytes()
    image.save(out, fmt, **extra)
    return out.getvalue()


def png_bomb(side: int = 40_000) -> bytes:
    """A PNG whose header claims side × side pixels: the classic decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def visitor_token() -> str:
    return identity.new_visitor_token()


def contact_of(store: Store, token: str, customer_id: int | None = None) -> service.Contact:
    vid = identity.visitor_id_from(token)
    assert vid is not None
    return service.Contact(store.id, identity.visitor_hash(vid), customer_id, "")


async def upload(
    client: httpx.AsyncClient,
    store: Store,
    token: str,
    data: bytes,
    *,
    client_id: str = "img-1",
    filename: str = "IMG_0001.jpg",
    **fields: str,
) -> httpx.Response:
    form = {"channel": store.code, "visitor": token, "client_id": client_id, **fields}
    return await client.post(
        "/api/v1/widget/images", data=form, files={"file": (filename, data, "image/jpeg")}
    )


async def count(db: Database, model: Any) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


# --- cleaning --------------------------------------------------------------------------------


def test_clean_image_strips_exif_and_makes_a_small_thumbnail() -> None:
    raw = photo()
    assert Image.open(io.BytesIO(raw)).getexif().get(GPS_TAG) is not None  # the test's premise
    cleaned = clean_image(raw, "beach.jpg")
    assert cleaned.content_type == "image/jpeg"
    assert (cleaned.width, cleaned.height) == (1200, 900)
    stored = Image.open(io.BytesIO(cleaned.data))
    assert len(stored.getexif()) == 0 and "exif" not in stored.info
    thumb = Image.open(io.BytesIO(cleaned.thumb))
    assert max(thumb.size) == 240 and thumb.size == (240, 180)
    assert len(cleaned.thumb) < len(cleaned.data) / 5


def test_transparent_png_keeps_transparency_in_a_webp_thumbnail() -> None:
    image = Image.new("RGBA", (600, 300), (255, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    cleaned = clean_image(out.getvalue(), "logo.png")
    assert cleaned.content_type == "image/png" and cleaned.thumb_type == "image/webp"
    assert Image.open(io.BytesIO(cleaned.thumb)).mode == "RGBA"


def test_decompression_bomb_is_refused_by_the_pixel_limit() -> None:
    with pytest.raises(ImageTooLarge) as err:
        clean_image(png_bomb(), "huge.png")
    assert "像素" in err.value.zh and "pixels" in err.value.en


# --- the customer's upload -------------------------------------------------------------------


async def test_customer_image_is_stored_posted_and_served_through_its_signed_url(
    client: httpx.AsyncClient, db: Database, chat_store: Store
) -> None:
    token = visitor_token()
    response = await upload(client, chat_store, token, photo())
    assert response.status_code == 201, response.text
    ack = response.json()
    assert ack["duplicate"] is False
    async with db.sessionmaker() as s:
        message = await s.get(Message, ack["message_id"])
        conversation = await s.get(Conversation, ack["conversation_id"])
        assert message is not None and conversation is not None
        assert message.kind == "image" and message.sender_kind == "customer"
        assert conversation.last_message_preview == "[图片]"
        payload = message.payload
    assert payload["width"] == 1200 and payload["name"] == "IMG_0001.jpg"
    full = await client.get(payload["url"])
    thumb = await client.get(payload["thumb_url"])
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert thumb.status_code == 200 and len(thumb.content) < len(full.content)
    assert Image.open(io.BytesIO(full.content)).getexif().get(GPS_TAG) is None
    assert "private" in full.headers["cache-control"]

    # The lost acknowledgement: the same client id again is the same message, one file.
    again = await upload(client, chat_store, token, photo())
    assert again.status_code == 201
    assert again.json()["duplicate"] is True and again.json()["message_id"] == ack["message_id"]
    assert await count(db, ChatImage) == 1
    assert await count(db, Message) == 1


async def test_forged_or_altered_image_urls_are_not_found(
    client: httpx.AsyncClient, chat_store: Store
) -> None:
    ack = (await upload(client, chat_store, visitor_token(), photo())).json()
    forged = media.customer_url(ack["message_id"] + 999)  # signed, but no such image
    assert (await client.get(forged)).status_code == 404
    tampered = await client.get("/api/v1/widget/images/eyJpZCI6MX0.bad-signature")
    assert tampered.status_code == 404
    assert tampered.json()["code"] == "image_not_found"


async def test_wrong_type_too_big_and_bomb_are_refused_in_both_languages(
    client: httpx.AsyncClient, db: Database, chat_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = visitor_token()
    script = await upload(client, chat_store, token, b"<script>alert(1)</script>", client_id="a")
    assert script.status_code == 422
    assert "不是 JPEG、PNG 或 WebP" in script.json()["title_zh"]
    assert "not a JPEG, PNG or WebP" in script.json()["title_en"]
    gif = await upload(client, chat_store, token, b"GIF89a" + b"\x00" * 64, client_id="b")
    assert gif.status_code == 422
    bomb = await upload(client, chat_store, token, png_bomb(), client_id="c")
    assert bomb.status_code == 422 and bomb.json()["code"] == "image_too_many_pixels"
    monkeypatch.setattr(get_settings(), "upload_max_bytes", 50_000)
    big = await upload(client, chat_store, token, photo(), client_id="d")
    assert big.status_code == 422 and "超过大小上限" in big.json()["title_zh"]
    assert await count(db, ChatImage) == 0 and await count(db, Message) == 0


async def test_image_cannot_be_posted_into_someone_elses_conversation(
    client: httpx.AsyncClient, db: Database, chat_store: Store
) -> None:
    alice = visitor_token()
    ack = (await upload(client, chat_store, alice, photo(300, 200), client_id="x")).json()
    mallory = visitor_token()
    response = await upload(
        client,
        chat_store,
        mallory,
        photo(300, 200),
        client_id="y",
        conversation_id=str(ack["conversation_id"]),
    )
    assert response.status_code == 404
    assert response.json()["code"] == "conversation_not_found"
    assert await count(db, ChatImage) == 1 and await count(db, Message) == 1


async def test_a_forged_identity_cannot_upload(
    client: httpx.AsyncClient, chat_store: Store
) -> None:
    response = await upload(
        client, chat_store, visitor_token(), photo(), uid="buyer-1", uid_hash="0" * 64
    )
    assert response.status_code == 403 and response.json()["code"] == "identity_invalid"


# --- the agent side --------------------------------------------------------------------------


async def _identified_chat(
    db: Database, store: Store, customer: Customer, token: str
) -> service.Posted:
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, contact_of(store, token, customer.id), client_msg_id="hi", body="在吗"
        )
        await s.commit()
        return posted


async def test_agent_sends_an_image_and_sees_files_only_of_that_conversation(
    client: httpx.AsyncClient,
    db: Database,
    chat_store: Store,
    login_as: LoginAs,
) -> None:
    theirs = (await upload(client, chat_store, visitor_token(), photo(400, 300))).json()
    ours = (await upload(client, chat_store, visitor_token(), photo(400, 300))).json()
    agent = await login_as("agent")
    response = await agent.post(
        f"/api/v1/conversations/{ours['conversation_id']}/images",
        data={"client_id": "agent-img"},
        files={"file": ("size-chart.png", photo(800, 400, "PNG", exif=False), "image/png")},
    )
    assert response.status_code == 201, response.text
    async with db.sessionmaker() as s:
        sent = await s.get(Message, response.json()["message_id"])
        assert sent is not None and sent.kind == "image" and sent.sender_kind == "agent"
        image_id = sent.payload["image_id"]
        other = await s.scalar(
            select(ChatImage.id).where(ChatImage.conversation_id == theirs["conversation_id"])
        )
    base = f"/api/v1/conversations/{ours['conversation_id']}/images"
    assert (await agent.get(f"{base}/{image_id}")).headers["content-type"] == "image/png"
    assert (await agent.get(f"{base}/{image_id}/thumb")).status_code == 200
    assert (await agent.get(f"{base}/{other}")).status_code == 404  # another conversation's
    assert (await client.get(f"{base}/{image_id}")).status_code == 401  # signed out


async def test_agent_order_card_only_for_the_conversations_customer(
    db: Database,
    chat_store: Store,
    login_as: LoginAs,
    make_customer: Callable[..., Awaitable[Customer]],
    make_order: Callable[..., Awaitable[Order]],
) -> None:
    buyer = await make_customer(chat_store)
    stranger = await make_customer(chat_store)
    mine = await make_order(chat_store, buyer, items=[{"title": "连衣裙", "unit_price": "199.00"}])
    not_mine = await make_order(chat_store, stranger)
    posted = await _identified_chat(db, chat_store, buyer, visitor_token())
    agent = await login_as("agent")
    url = f"/api/v1/conversations/{posted.conversation.id}/order-cards"
    refused = await agent.post(url, json={"client_id": "o1", "order_no": not_mine.order_no})
    assert refused.status_code == 404 and refused.json()["code"] == "order_not_found"
    sent = await agent.post(url, json={"client_id": "o2", "order_no": mine.order_no})
    assert sent.status_code == 201
    async with db.sessionmaker() as s:
        message = await s.get(Message, sent.json()["message_id"])
        assert message is not None and message.kind == "order"
        assert message.payload["order_no"] == mine.order_no
        assert message.payload["amount"] == f"{mine.total_amount:.2f}"
        assert message.payload["first_item"] == "连衣裙"


# --- the customer's cards --------------------------------------------------------------------


async def test_customer_order_card_is_built_from_the_database_for_own_orders_only(
    client: httpx.AsyncClient,
    db: Database,
    chat_store: Store,
    make_customer: Callable[..., Awaitable[Customer]],
    make_order: Callable[..., Awaitable[Order]],
) -> None:
    buyer = await make_customer(chat_store, external_id="shop-user-7")
    stranger = await make_customer(chat_store)
    order = await make_order(
        chat_store,
        buyer,
        items=[{"title": "羊毛大衣", "unit_price": "599.00"}, {"title": "围巾"}],
    )
    other = await make_order(chat_store, stranger)
    token = visitor_token()
    contact = contact_of(chat_store, token, buyer.id)
    async with db.sessionmaker() as s:
        with pytest.raises(cards.OrderNotFound):
            await cards.post_customer_order_card(s, contact, other.order_no, client_msg_id="o1")
        with pytest.raises(cards.OrdersNeedIdentity):
            await cards.post_customer_order_card(
                s, contact_of(chat_store, token), order.order_no, client_msg_id="o2"
            )
        posted = await cards.post_customer_order_card(
            s, contact, order.order_no, client_msg_id="o3"
        )
        await s.commit()
    card = posted.message.payload
    assert card["order_no"] == order.order_no and card["status"] == order.status
    assert card["items"] == "羊毛大衣 等2件" and card["amount"] == f"{order.total_amount:.2f}"
    assert "receiver_phone" not in card and "address" not in str(card)

    # The picker: the signed-in shopper's orders; a forged identity gets nothing.
    secret = identity.widget_secret(chat_store)
    signed = identity.identifier_hash(secret, "shop-user-7")
    params = {"channel": chat_store.code, "visitor": token, "uid": "shop-user-7"}
    listed = await client.get("/api/v1/widget/orders", params={**params, "uid_hash": signed})
    assert listed.status_code == 200
    assert [o["order_no"] for o in listed.json()["items"]] == [order.order_no]
    forged = await client.get("/api/v1/widget/orders", params={**params, "uid_hash": "f" * 64})
    assert forged.status_code == 403
    anonymous = await client.get(
        "/api/v1/widget/orders", params={"channel": chat_store.code, "visitor": token}
    )
    assert anonymous.status_code == 422 and anonymous.json()["code"] == "identity_required"


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "p1", "title": "T恤", "url": "javascript:alert(1)"},
        {"id": "p1", "title": "T恤", "image": "data:image/png;base64,AAAA"},
        {"id": "p1", "title": "T恤", "url": 'https://shop.example/a" onerror="x'},
        {"id": "p1", "title": "", "url": "https://shop.example/p1"},
        {"id": "p1", "title": "T恤", "price": "免费"},
    ],
)
def test_product_card_refuses_unsafe_or_malformed_fields(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        cards.ProductCard.model_validate(bad)


async def test_product_card_prefers_the_catalogue_and_dedupes(
    db: Database, chat_store: Store
) -> None:
    async with db.sessionmaker() as s:
        s.add(
            Product(
                store_id=chat_store.id,
                external_id="P-100",
                title="纯棉圆领T恤（官方）",
                price="79.00",
                image_url="https://img.example/p100.jpg",
            )
        )
        await s.commit()
    contact = contact_of(chat_store, visitor_token())
    claimed = cards.ProductCard.model_validate(
        {"id": "P-100", "title": "T恤", "price": 1, "url": "https://shop.example/p/100"}
    )
    unknown = cards.ProductCard.model_validate(
        {"sku": "X-9", "title": "<b>新品</b>", "price": "9.9"}
    )
    async with db.sessionmaker() as s:
        known = await cards.post_product_card(s, contact, claimed, client_msg_id="p1")
        again = await cards.post_product_card(s, contact, claimed, client_msg_id="p1")
        other = await cards.post_product_card(s, contact, unknown, client_msg_id="p2")
        await s.commit()
    assert again.duplicate and again.message.id == known.message.id
    assert known.message.payload["verified"] is True
    assert known.message.payload["price"] == "79.00"
    assert known.message.payload["title"] == "纯棉圆领T恤（官方）"
    assert known.message.payload["url"] == "https://shop.example/p/100"
    assert other.message.payload["verified"] is False
    assert other.message.payload["title"] == "<b>新品</b>"  # stored as text, escaped when drawn


async def test_a_raw_frame_cannot_make_up_an_image_message(db: Database, chat_store: Store) -> None:
    contact = contact_of(chat_store, visitor_token())
    async with db.sessionmaker() as s:
        with pytest.raises(service.UnsupportedKind):
            await service.post_customer_message(
                s, contact, client_msg_id="i", body="[图片]", kind="image"
            )


async def test_chat_page_offers_a_valid_product_and_ignores_a_broken_one(
    client: httpx.AsyncClient, chat_store: Store
) -> None:
    good = '{"id": "P-1", "title": "T恤 </script><script>x()</script>", "price": "79"}'
    page = await client.get(f"/chat/{chat_store.code}", params={"product": good})
    assert page.status_code == 200
    assert '"product_id": "P-1"' in page.text
    assert "</script><script>x()" not in page.text  # escaped inside the JSON config
    bad = '{"id": "P-1", "title": "T恤", "url": "javascript:alert(1)"}'
    page = await client.get(f"/chat/{chat_store.code}", params={"product": bad})
    assert page.status_code == 200 and '"product": null' in page.text


async def test_the_bot_leaves_pictures_and_cards_to_a_person(db: Database, make_store: Any) -> None:
    import kefu.bot.tasks  # noqa: F401 - registers bot.reply, as the app does at startup

    store = await make_store(
        code="bot-cards", name="机器人小铺", settings={"bot": {"enabled": True}}
    )
    contact = contact_of(store, visitor_token())
    card = cards.ProductCard.model_validate({"sku": "A-1", "title": "卫衣", "price": "99"})
    async with db.sessionmaker() as s:
        posted = await cards.post_product_card(s, contact, card, client_msg_id="p1")
        queued = jobs.pending_jobs(s)
        await s.commit()
    # No bot.reply job: the bot reads text only; the chat waits for an agent instead.
    assert [name for name, _ in queued if name == "bot.reply"] == []
    assert posted.conversation.waiting_since is not None
    async with db.sessionmaker() as s:
        text = await service.post_customer_message(
            s,
            contact,
            client_msg_id="t1",
            body="这件有 L 码吗",
            conversation_id=posted.conversation.id,
        )
        queued = jobs.pending_jobs(s)
        wanted = {"conversation_id": text.conversation.id, "message_id": text.message.id}
        await s.rollback()
    assert ("bot.reply", wanted) in queued
