"""The optional LLM adapter against a local server speaking the OpenAI chat-completions
protocol: it may reword a KB answer, never add a number, a link or a promise, and any
failure falls back to the answer itself."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kefu.bot import llm
from tests.bot.test_live import CHANNEL, ask, body, shopper
from tests.fixtures.browser import LiveServer
from tests.fixtures.servers import free_port

ANSWER = "满 99 元包邮，不满收取 8 元运费。偏远地区除外。"


class FakeCompletions:
    """Answers like an OpenAI-compatible server; what it says depends on the customer's words."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("authorization")})
        question = body["messages"][-1]["content"]
        if "坏掉" in question:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if "很慢" in question:
            await asyncio.sleep(2)
        if "乱说" in question:
            content = "亲，满 99 元包邮哦，今天下单还送 20 元优惠券！"
        elif "链接" in question:
            content = "亲，满 99 元包邮，不满 8 元运费，详情见 https://evil.example.com"
        else:
            content = "亲，订单满 99 元就包邮啦；不满的话运费是 8 元，偏远地区除外哦～"
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}
                ],
            }
        )  # fmt: skip


@pytest.fixture(scope="module")
def completions() -> Iterator[tuple[str, FakeCompletions]]:
    fake = FakeCompletions()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.handle, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", fake
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            thread.join(5)


def _settings(base_url: str | None, timeout_s: float = 1.0) -> llm.LlmSettings:
    return llm.LlmSettings(
        base_url=base_url, api_key=SecretStr("sk-test"), model="qwen-plus", timeout_s=timeout_s
    )


async def test_grounded_rewording_is_used(completions: tuple[str, FakeCompletions]) -> None:
    url, fake = completions
    text, why = await llm.rephrase("运费多少", ANSWER, settings=_settings(url))
    assert why == "llm" and text.startswith("亲，订单满 99 元就包邮啦")
    sent = fake.requests[-1]
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["model"] == "qwen-plus"
    assert ANSWER in sent["body"]["messages"][-1]["content"]  # the model sees the KB answer


@pytest.mark.parametrize(
    ("question", "reason"),
    [("你别乱说", "kb:new_numbers"), ("给个链接", "kb:new_link"), ("服务坏掉了", "kb:unavailable")],
)
async def test_invented_facts_and_failures_fall_back_to_the_kb_answer(
    completions: tuple[str, FakeCompletions], question: str, reason: str
) -> None:
    url, _ = completions
    text, why = await llm.rephrase(question, ANSWER, settings=_settings(url))
    assert (text, why) == (ANSWER, reason)


async def test_slow_endpoint_times_out_to_the_kb_answer(
    completions: tuple[str, FakeCompletions],
) -> None:
    url, _ = completions
    started = time.monotonic()
    text, why = await llm.rephrase("回复很慢吗", ANSWER, settings=_settings(url, timeout_s=0.3))
    assert (text, why) == (ANSWER, "kb:unavailable")
    assert time.monotonic() - started < 1.5


async def test_off_without_an_endpoint() -> None:
    assert await llm.rephrase("运费", ANSWER, settings=_settings(None)) == (ANSWER, "kb:disabled")


def test_grounding_check() -> None:
    assert llm.grounded("亲，满99元包邮，不满8元运费～", ANSWER) is None
    assert llm.grounded("亲，满 100 元包邮", ANSWER) == "new_numbers"
    assert llm.grounded("  ", ANSWER) == "empty"
    assert llm.grounded("包邮" * 200, ANSWER) == "too_long"


async def test_live_bot_sends_the_reworded_answer_when_the_shop_turns_it_on(
    live_server: LiveServer,
    make_store: Any,
    make_faq: Any,
    completions: tuple[str, FakeCompletions],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, fake = completions
    monkeypatch.setattr(llm, "llm_settings", lambda: _settings(url))
    await make_store(
        code=CHANNEL, name="优衣小铺", settings={"bot": {"enabled": True, "llm_rephrase": True}}
    )
    await make_faq("运费怎么算", ANSWER, similar=["包邮吗", "运费多少"])
    peer = await shopper(live_server)
    reply = await ask(peer, "运费怎么算")
    assert body(reply).startswith("亲，订单满 99 元就包邮啦")
    assert ANSWER in fake.requests[-1]["body"]["messages"][-1]["content"]
    # The model may not add facts: a made-up coupon is replaced by the answer as written.
    made_up = await ask(peer, "运费怎么算，你别乱说")
    assert body(made_up) == ANSWER
    await peer.close()
