"""Two Kefu processes sharing one database and one Redis: a chat crosses between them, and a
customer who reconnects to the other process resumes without losing anything."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kefu.store.models import Store
from tests.conversations.chat import agent, customer
from tests.fixtures.browser import LiveServer
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.redis


@contextlib.contextmanager
def kefu_process(database_url: str, redis_url: str) -> Iterator[LiveServer]:
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": database_url,
        "KEFU_REDIS_URL": redis_url,
        "KEFU_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "kefu.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("kefu process did not start")
        yield LiveServer(url, database_url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def is_type(kind: str) -> Any:
    return lambda f: f.get("type") == kind


async def test_chat_crosses_processes_and_resumes_on_the_other_one(
    database_url: str, redis_url: str, db: object, chat_store: Store, agent_cookie: Any
) -> None:
    with kefu_process(database_url, redis_url) as one, kefu_process(database_url, redis_url) as two:
        cookie, http = await agent_cookie(two, display_name="小美")
        staff = await agent(two, cookie)
        await staff.expect(is_type("hello"))
        await staff.send({"type": "resume", "after": 0})

        shopper = await customer(one)
        token = (await shopper.expect(is_type("hello")))["visitor_token"]
        await shopper.send({"type": "resume", "after": 0})
        await shopper.send({"type": "send", "client_id": "x1", "body": "在吗？想问下尺码"})
        ack = await shopper.expect(is_type("ack"))
        seen = await staff.event("message", client_id="x1")  # published by process one
        cid = seen["conversation_id"]

        await staff.send(
            {"type": "send", "conversation_id": cid, "client_id": "y1", "body": "在的，您说"}
        )
        reply = await shopper.event("message", client_id="y1")  # published by process two
        cursor = reply["id"]
        await shopper.close()

        # While the customer is offline, the agent answers again through process two.
        response = await http.post(
            f"/api/v1/conversations/{cid}/messages", json={"client_id": "y2", "body": "M 码偏大"}
        )
        assert response.status_code == 201
        back = await customer(two, visitor=token)  # reconnects to the other process
        assert (await back.expect(is_type("hello")))["conversation_id"] == ack["conversation_id"]
        await back.send({"type": "resume", "after": cursor})
        missed = await back.event("message", client_id="y2")
        assert missed["id"] > cursor
        await back.close()
        await staff.close()
