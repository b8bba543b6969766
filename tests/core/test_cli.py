"""`kefu db upgrade` and `kefu admin create` against a real database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.core.config import get_settings


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("KEFU_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_db_upgrade_then_admin_create(cli_db: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = {
        r[0]
        for r in sqlite3.connect(cli_db).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"users", "orders", "audit_log", "alembic_version"} <= tables

    result = runner.invoke(
        app,
        [
            "admin",
            "create",
            "--username",
            "boss",
            "--display-name",
            "老板",
            "--password",
            "a-long-password",
        ],
    )
    assert result.exit_code == 0, result.output
    row = (
        sqlite3.connect(cli_db)
        .execute("SELECT role, display_name, password_hash FROM users WHERE username='boss'")
        .fetchone()
    )
    assert row[0] == "admin" and row[1] == "老板"
    assert row[2].startswith("$argon2") and "a-long-password" not in row[2]


def test_admin_create_rejects_duplicate_and_short_password(cli_db: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["admin", "create", "--username", "boss", "--password", "long-enough-1"]
    )
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(
        app, ["admin", "create", "--username", "boss", "--password", "long-enough-1"]
    )
    assert again.exit_code == 1
    assert "已存在" in again.output
    short = runner.invoke(app, ["admin", "create", "--username", "x2", "--password", "short"])
    assert short.exit_code == 1
    assert "密码至少" in short.output
