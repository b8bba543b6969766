"""Optional LLM rephrasing through an OpenAI-compatible endpoint the shop runs or rents
(Qwen, DeepSeek, a local vLLM …). Off unless `KEFU_LLM_BASE_URL` is set and the store turns
`llm_rephrase` on.

The model never answers on its own: it gets the customer's message and the knowledge-base
answer the bot already chose, and may only make that answer read naturally. Its output is
checked before anyone sees it, and the KB answer is sent verbatim when
- every number in the output (prices, days, percentages, phone numbers) is not found in the
  grounded answer: the model may not invent policy or prices;
- it brings a link the answer did not have, is empty, or grows past `MAX_GROWTH` × the answer;
- the endpoint is slow, down, or answers something that is not a chat completion.
So turning the adapter on can change wording, never facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

log = structlog.get_logger(__name__)

MAX_GROWTH = 2.5
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LINK = re.compile(r"https?://\S+|www\.\S+")

SYSTEM_PROMPT = (
    "你是网店的客服助手。你只能改写【参考答案】，让它读起来自然、亲切、简洁，适合在聊天中发送。"
    "严格要求：不得添加参考答案中没有的任何事实、数字、价格、时间、政策或链接；"
    "不得承诺参考答案没有承诺的事；不确定时原样输出参考答案。只输出改写后的回复本身。"
)


@dataclass(frozen=True)
class LlmSettings:
    base_url: str | None
    api_key: SecretStr | None = None
    model: str = "qwen-plus"
    timeout_s: float = 4.0
    max_tokens: int = 400


def llm_settings() -> LlmSettings:
    from kefu.core.config import get_settings

    settings = get_settings()
    return LlmSettings(
        base_url=getattr(settings, "llm_base_url", None),
        api_key=getattr(settings, "llm_api_key", None),
        model=getattr(settings, "llm_model", "qwen-plus"),
        timeout_s=getattr(settings, "llm_timeout_s", 4.0),
    )


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def grounded(candidate: str, answer: str) -> str | None:
    """Why `candidate` may not replace `answer`, or None if it is safe to send."""
    text = candidate.strip()
    if not text:
        return "empty"
    if len(text) > MAX_GROWTH * max(len(answer), 40):
        return "too_long"
    invented = _numbers(text) - _numbers(answer)
    if invented:
        return "new_numbers"
    if set(_LINK.findall(text)) - set(_LINK.findall(answer)):
        return "new_link"
    return None


def _messages(question: str, answer: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"顾客：{question}\n\n【参考答案】\n{answer}"},
    ]


async def rephrase(
    question: str,
    answer: str,
    *,
    settings: LlmSettings | None = None,
    client: httpx.AsyncClient | None = None,
) -> tuple[str, str]:
    """The text to send and why: ("llm", rephrased) or ("kb:<reason>", the answer itself)."""
    settings = settings or llm_settings()
    if not settings.base_url:
        return answer, "kb:disabled"
    url = settings.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    body: dict[str, Any] = {
        "model": settings.model,
        "messages": _messages(question, answer),
        "temperature": 0.2,
        "max_tokens": settings.max_tokens,
        "stream": False,
    }
    own = client is None
    http = client or httpx.AsyncClient(timeout=settings.timeout_s)
    try:
        response = await http.post(url, json=body, headers=headers, timeout=settings.timeout_s)
        response.raise_for_status()
        candidate = str(response.json()["choices"][0]["message"]["content"])
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        # The key and the customer's words stay out of the log.
        log.warning("llm_unavailable", error=type(exc).__name__)
        return answer, "kb:unavailable"
    finally:
        if own:
            await http.aclose()
    reason = grounded(candidate, answer)
    if reason is not None:
        log.info("llm_rejected", reason=reason)
        return answer, f"kb:{reason}"
    return candidate.strip(), "llm"
