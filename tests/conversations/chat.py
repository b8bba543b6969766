"""Helpers for chat tests: a store with a channel, WebSocket clients for both sides."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from kefu.store.models import Store
from tests.fixtures.browser import LiveServer
from tests.fixtures.factories import MakeUser, sign_in

Frame = dict[str, Any]
CHANNEL = "tmall-flagship"


@pytest.fixture
async def chat_store(make_store: Callable[..., Awaitable[Store]]) -> Store:
    return await make_store(code=CHANNEL, name="优衣小铺旗舰店")


AgentCookie = Callable[..., Awaitable[tuple[str, httpx.AsyncClient]]]


@pytest.fixture
async def agent_cookie(make_user: MakeUser) -> Any:
    """`cookie, client = await agent_cookie(live_server, role="agent")`: signed in over HTTP."""
    clients: list[httpx.AsyncClient] = []

    async def login(
        live: LiveServer, role: str = "agent", display_name: str | None = None
    ) -> tuple[str, httpx.AsyncClient]:
        user = await make_user(role, display_name=display_name)
        client = httpx.AsyncClient(base_url=live.url)
        clients.append(client)
        await sign_in(client, user.username)
        client.user = user  # type: ignore[attr-defined]
        return f"kefu_session={client.cookies['kefu_session']}", client

    yield login
    for client in clients:
        await client.aclose()


def ws_url(live: LiveServer, path: str, **params: str) -> str:
    base = live.url.replace("http://", "ws://")
    return f"{base}{path}" + (f"?{urlencode(params)}" if params else "")


class Peer:
    """One socket; `expect` reads frames until one matches, keeping the rest for later."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.frames: list[Frame] = []

    async def send(self, frame: Frame) -> None:
        await self.conn.send(json.dumps(frame))

    async def expect(self, match: Callable[[Frame], bool], within: float = 10.0) -> Frame:
        for i, frame in enumerate(self.frames):
            if match(frame):
                return self.frames.pop(i)
        async with asyncio.timeout(within):
            while True:
                frame = json.loads(await self.conn.recv())
                if match(frame):
                    return frame
                self.frames.append(frame)

    async def event(self, kind: str, within: float = 10.0, **fields: Any) -> Frame:
        def match(f: Frame) -> bool:
            if f.get("type") != "event" or f.get("kind") != kind:
                return False
            message = f.get("message") or {}
            return all(message.get(k) == v or f.get(k) == v for k, v in fields.items())

        return await self.expect(match, within)

    async def close(self) -> None:
        await self.conn.close()


async def customer(live: LiveServer, channel: str = CHANNEL, **params: str) -> Peer:
    conn = await connect(ws_url(live, "/api/v1/widget/ws", channel=channel, **params))
    return Peer(conn)


async def agent(live: LiveServer, cookie: str) -> Peer:
    conn = await connect(
        ws_url(live, "/api/v1/agent/ws"),
        additional_headers={"Cookie": cookie, "Origin": live.url},
    )
    return Peer(conn)
