"""Helpers for account tests: fresh clients, signing in through the form, reading the DB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import CSRF_RE, PASSWORD

NewClient = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def new_client(app: FastAPI) -> AsyncIterator[NewClient]:
    """Independent browsers (each with its own cookie jar) on the test's app."""
    clients: list[httpx.AsyncClient] = []

    async def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def csrf_of(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, f"{path} carries a CSRF token"
    return match.group(1)


async def post_login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    token = await csrf_of(client)
    client.headers["X-CSRF-Token"] = token
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next},
    )
