"""Migrations build the whole schema from empty, on SQLite and on PostgreSQL, and match the
models exactly (a model change without a migration fails here)."""

from __future__ import annotations

import secrets
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from kefu.core.db import Base, make_engine
from kefu.core.migrate import upgrade_async
from tests.conftest import TEST_DB


def include_object(obj: object, name: str | None, type_: str, *_: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith("ticket_fts"))


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, Base.metadata))


async def _empty_database_url(tmp_path: Path, request: object) -> str:
    if TEST_DB != "postgresql":
        return f"sqlite+aiosqlite:///{tmp_path}/migrate.db"
    server_url: str = request.getfixturevalue("postgres_url")  # type: ignore[attr-defined]
    name = f"migrate_{secrets.token_hex(4)}"
    engine = make_engine(server_url, pool=False)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


async def test_upgrade_from_empty_matches_models(tmp_path: Path, request: object) -> None:
    url = await _empty_database_url(tmp_path, request)
    await upgrade_async(url)
    engine = make_engine(url, pool=False)
    async with engine.connect() as conn:
        differences = await conn.run_sync(_diff)
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    await engine.dispose()
    assert version is not None
    assert differences == [], f"models and migrations differ: {differences}"
