"""Faults in a cluster: a web process killed mid-conversation, Redis restarted under live sockets.

Two real web processes (uvicorn subprocesses) share one PostgreSQL database and one Redis.
These tests need both servers: without them they skip locally and fail under CI=true (the
`postgres_url` / `redis_url` fixtures decide), whatever `KEFU_TEST_DB` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kefu.conversations.models import Message
from kefu.core.db import Database
from kefu.store.models import Store
from tests.conversations.chat import CHANNEL, Peer, agent
from tests.fixtures.browser import LiveServer
from tests.fixtures.servers import RedisProcess, free_port

pytestmark = pytest.mark.redis

Frame = dict[str, Any]


@pytest.fixture
def database_url(_pg_schema: str) -> str:
    """Several processes writing one database at once: PostgreSQL, also in SQLite runs."""
    return _pg_schema


@dataclass
class WebProcess:
    proc: subprocess.Popen[bytes]
    live: LiveServer

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no goodbye frames, in-flight work simply stops."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@contextlib.contextmanager
def web_process(
    database_url: str, redis_url: str, command: list[str] | None = None
) -> Iterator[WebProcess]:
    """`uvicorn kefu.asgi:app` (or `command`, given `--port`) until it answers /healthz."""
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": database_url,
        "KEFU_REDIS_URL": redis_url,
        "KEFU_LOG_LEVEL": "WARNING",
    }
    command = command or [
        *[sys.executable, "-m", "uvicorn", "kefu.asgi:app"],
        *["--host", "127.0.0.1", "--log-level", "warning"],
    ]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"kefu process exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("kefu process did not start")
        yield WebProcess(proc, LiveServer(url, database_url))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class Shopper:
    """A widget client as chat.js behaves: an outbox kept until acknowledged, resumed by the
    last event id it saw, unacknowledged messages resent with the same client ids."""

    def __init__(self) -> None:
        self.token = ""
        self.cursor = 0
        self.conversation_id: int | None = None
        self.outbox: dict[str, str] = {}  # client id -> body, in the order typed
        self.messages: dict[int, Frame] = {}  # event id -> message event
        self.conn: ClientConnection | None = None
        self._lock = asyncio.Lock()  # a resend and a new message never interleave
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, live: LiveServer) -> None:
        async with self._lock:
            params = {"channel": CHANNEL, **({"visitor": self.token} if self.token else {})}
            base = live.url.replace("http://", "ws://")
            conn = await connect(f"{base}/api/v1/widget/ws?{urlencode(params)}")
            hello = json.loads(await conn.recv())
            assert hello["type"] == "hello"
            self.token = hello["visitor_token"]
            await conn.send(json.dumps({"type": "resume", "after": self.cursor}))
            for client_id, body in list(self.outbox.items()):
                await conn.send(json.dumps({"type": "send", "client_id": client_id, "body": body}))
            self.conn = conn
            self._reader = asyncio.create_task(self._read(conn))

    async def _read(self, conn: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in conn:
                frame = json.loads(raw)
                if frame["type"] == "event":
                    self.cursor = max(self.cursor, frame["id"])
                    if frame["kind"] == "message":
                        self.messages[frame["id"]] = frame
                elif frame["type"] == "ack":
                    self.outbox.pop(frame["client_id"], None)
                    self.conversation_id = frame["conversation_id"]
                elif frame["type"] == "ping":
                    await conn.send(json.dumps({"type": "pong"}))
                elif frame["type"] == "error" and frame.get("client_id"):
                    # rate_limited / internal: kept in the outbox, sent again shortly
                    asyncio.get_running_loop().call_later(
                        1.0, lambda cid=frame["client_id"]: asyncio.ensure_future(self._resend(cid))
                    )

    async def _resend(self, client_id: str) -> None:
        if client_id in self.outbox:
            await self._transmit(client_id)

    async def _transmit(self, client_id: str) -> None:
        async with self._lock:
            if self.conn is None:
                return
            frame = {"type": "send", "client_id": client_id, "body": self.outbox[client_id]}
            with contextlib.suppress(ConnectionClosed):
                await self.conn.send(json.dumps(frame))

    async def say(self, client_id: str, body: str) -> None:
        self.outbox[client_id] = body
        await self._transmit(client_id)

    def lost_connection(self) -> None:
        self.conn = None

    def transcript(self) -> list[str]:
        return [self.messages[i]["message"]["client_id"] for i in sorted(self.messages)]

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def message_ids(peer: Peer) -> dict[int, str]:
    """Event id -> client id of every message event the agent has received so far."""
    return {
        f["id"]: f["message"]["client_id"]
        for f in peer.frames
        if f.get("type") == "event" and f.get("kind") == "message"
    }


async def drain_into(peer: Peer) -> None:
    """Keep reading the agent's socket so `peer.frames` holds everything that arrived."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in peer.conn:
            frame = json.loads(raw)
            peer.frames.append(frame)
            if frame.get("type") == "ping":
                await peer.send({"type": "pong"})


async def until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def stored_client_ids(database_url: str, conversation_id: int) -> list[str]:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            rows = await session.scalars(
                select(Message.client_msg_id)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            )
            return [str(r) for r in rows]
    finally:
        await database.dispose()


async def test_killing_a_web_process_mid_burst_loses_and_duplicates_nothing(
    database_url: str, redis_url: str, db: object, chat_store: Store, agent_cookie: Any
) -> None:
    with (
        web_process(database_url, redis_url) as a,
        web_process(database_url, redis_url) as b,
    ):
        cookie, _http = await agent_cookie(b.live, display_name="小美")
        staff = await agent(b.live, cookie)
        staff_reader = asyncio.create_task(drain_into(staff))
        await until(lambda: any(f["type"] == "hello" for f in staff.frames), 10, "agent hello")
        await staff.send({"type": "resume", "after": 0})

        shopper = Shopper()
        await shopper.connect(a.live)
        typed = [("c1", "你好，在吗？"), ("c2", "想问下这件卫衣的尺码"), ("c3", "我身高175")]
        for client_id, body in typed:
            await shopper.say(client_id, body)
            await until(lambda c=client_id: c not in shopper.outbox, 10, f"ack of {client_id}")
        conversation_id = shopper.conversation_id
        assert conversation_id is not None

        replies = [("a1", "在的，您好"), ("a2", "175 建议拿 L 码")]
        for client_id, body in replies:
            await staff.send(
                {"type": "send", "conversation_id": conversation_id, "client_id": client_id}
                | {"body": body}
            )
            await until(
                lambda c=client_id: c in shopper.transcript(), 10, f"customer got {client_id}"
            )

        # The customer sends a burst; process A dies right after the fifth message went out,
        # with messages in flight (stored or not, acknowledged or not), and the customer
        # keeps typing while disconnected.
        burst = [(f"b{i}", f"连发第{i}条：M 码和 L 码差多少？") for i in range(1, 13)]
        for i, (client_id, body) in enumerate(burst):
            await shopper.say(client_id, body)
            if i == 4:
                a.kill()
                shopper.lost_connection()
                assert shopper.outbox, "every message was acknowledged before the kill"

        # The widget reconnects (here to the surviving process, as a load balancer would
        # route it) with its last event id and resends what was not acknowledged.
        await shopper.connect(b.live)
        await staff.send(
            {"type": "send", "conversation_id": conversation_id, "client_id": "a3"}
            | {"body": "L 码肩宽 48，M 码 46"}
        )
        await shopper.say("c4", "好的，那我拿 L 码")

        expected = [c for c, _ in typed] + [c for c, _ in replies] + [c for c, _ in burst]
        expected += ["a3", "c4"]
        await until(lambda: not shopper.outbox, 20, "every customer message acknowledged")
        await until(
            lambda: set(shopper.transcript()) >= set(expected), 20, "the customer's transcript"
        )
        # A message committed by A just before it died may never have been published: the
        # agent's socket re-reads the log at its next heartbeat (25 s).
        await until(
            lambda: set(message_ids(staff).values()) >= set(expected), 60, "the agent's inbox"
        )
        await asyncio.sleep(0.5)  # anything duplicated would arrive now

        stored = await stored_client_ids(database_url, conversation_id)
        assert sorted(stored) == sorted(expected)
        assert len(stored) == len(set(stored))
        # The customer's own messages are stored in the order typed, despite the failover.
        assert [c for c in stored if c[0] in "bc"] == [c for c in expected if c[0] in "bc"]
        assert shopper.transcript() == stored
        agent_view = message_ids(staff)
        assert [agent_view[i] for i in sorted(agent_view)] == stored

        await shopper.close()
        await staff.close()
        await staff_reader


async def test_events_published_while_redis_is_down_reach_the_other_process(
    database_url: str, db: object, chat_store: Store, agent_cookie: Any
) -> None:
    redis = RedisProcess()
    redis.start()
    try:
        with (
            web_process(database_url, redis.url) as a,
            web_process(database_url, redis.url) as b,
        ):
            _cookie, http = await agent_cookie(b.live, display_name="小美")
            shopper = Shopper()
            await shopper.connect(a.live)
            await shopper.say("c1", "快递到哪了？")
            await until(lambda: "c1" in shopper.transcript(), 10, "the customer's own message")
            conversation_id = shopper.conversation_id

            redis.kill()
            # Process B stores the reply; its publish goes nowhere (Redis is down), so
            # process A, which holds the customer's socket, hears nothing now.
            response = await http.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                json={"client_id": "r1", "body": "已经到杭州转运中心了"},
            )
            assert response.status_code == 201
            await asyncio.sleep(0.5)
            assert "r1" not in shopper.transcript()

            redis.start()
            # A's bus reconnects, resubscribes and has every socket read the log again.
            await until(lambda: "r1" in shopper.transcript(), 15, "the reply after Redis")
            assert shopper.transcript() == ["c1", "r1"]
            await shopper.close()
    finally:
        redis.close()


async def test_kefu_serve_with_two_workers_carries_chats(
    database_url: str, redis_url: str, db: object, chat_store: Store, agent_cookie: Any
) -> None:
    """`kefu serve --workers 2`: sockets land on either worker; every chat still flows."""
    kefu = str(Path(sys.executable).with_name("kefu"))
    command = [kefu, "serve", "--workers", "2", "--no-migrate", "--host", "127.0.0.1"]
    with web_process(database_url, redis_url, command) as server:
        pgrep = ["pgrep", "-P", str(server.proc.pid)]
        workers = (await asyncio.to_thread(subprocess.check_output, pgrep, text=True)).split()
        assert len(workers) >= 2, "uvicorn did not start two worker processes"

        cookie, _http = await agent_cookie(server.live, display_name="小美")
        staff = await agent(server.live, cookie)
        staff_reader = asyncio.create_task(drain_into(staff))
        await until(lambda: any(f["type"] == "hello" for f in staff.frames), 10, "agent hello")
        await staff.send({"type": "resume", "after": 0})

        # Six shoppers: the kernel spreads their connections over both workers.
        shoppers = [Shopper() for _ in range(6)]
        for n, shopper in enumerate(shoppers):
            await shopper.connect(server.live)
            await shopper.say(f"s{n}", f"第{n}位顾客：有现货吗？")
        await until(
            lambda: {f"s{n}" for n in range(6)} <= set(message_ids(staff).values()),
            15,
            "the agent to see every shopper",
        )
        for n, shopper in enumerate(shoppers):
            await staff.send(
                {"type": "send", "conversation_id": shopper.conversation_id}
                | {"client_id": f"r{n}", "body": "有的，今天下单明天发"}
            )
        for n, shopper in enumerate(shoppers):
            await until(lambda s=shopper, n=n: s.transcript() == [f"s{n}", f"r{n}"], 15, "reply")
            await shopper.close()
        await staff.close()
        await staff_reader
