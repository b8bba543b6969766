"""Shared fixtures: a clean database per test (SQLite file, or the suite's own PostgreSQL
when KEFU_TEST_DB=postgresql), the app wired to it, HTTP clients signed in by role."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest

os.environ.setdefault("KEFU_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("KEFU_ENVIRONMENT", "test")
# Hundreds of apps in one process: frozen garbage would pile up (kefu.core.gcpolicy).
os.environ.setdefault("KEFU_GC_FREEZE", "false")
# Uploaded files of the whole run (and of servers it starts) go to a throwaway folder.
os.environ.setdefault("KEFU_MEDIA_DIR", tempfile.mkdtemp(prefix="kefu-test-media-"))

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import kefu.models  # noqa: F401
from kefu.app import create_app
from kefu.core import events, mail
from kefu.core.config import Settings, get_settings
from kefu.core.db import Base, Database
from kefu.core.logging import configure_logging
from tests.fixtures.servers import CapturedMail, postgres_server, redis_server, smtp_server

TEST_DB = os.environ.get("KEFU_TEST_DB", "sqlite")


def pytest_configure(config: pytest.Config) -> None:
    # Log as the app does from the first test on: structlog's default renders every logged
    # exception as a rich traceback with locals, which costs seconds per failing job.
    configure_logging()


pytest_plugins = ["tests.fixtures.factories", "tests.fixtures.browser"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
async def _pg_schema(postgres_url: str) -> AsyncIterator[str]:
    database = Database(postgres_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await database.dispose()
    yield postgres_url


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if TEST_DB == "postgresql":
        url: str = request.getfixturevalue("_pg_schema")
        return url
    return f"sqlite+aiosqlite:///{tmp_path}/kefu.db"


async def _truncate_all(database: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if database_url.startswith("sqlite"):
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    try:
        yield database
    finally:
        await events.drain()
        if not database_url.startswith("sqlite"):
            await _truncate_all(database)
        await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as s:
        yield s


@pytest.fixture
def settings(database_url: str) -> Settings:
    return get_settings().model_copy(update={"database_url": database_url})


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    events.set_bus(events.InProcessEventBus())
    return create_app(settings, database=db)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def smtp(settings: Settings) -> Iterator[CapturedMail]:
    """A local SMTP server; the app (and jobs) send their mail to it."""
    with smtp_server() as (host, port, captured):
        settings.smtp_host, settings.smtp_port = host, port
        mail.configure_mail(mail.from_settings(settings))
        try:
            yield captured
        finally:
            mail.configure_mail(None)
