"""The `kefu` command line."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from kefu.bot.cli import bot_app
from kefu.core.config import get_settings
from kefu.demo.cli import demo_app
from kefu.nlp.cli import nlp_app
from kefu.store.cli import import_app

app = typer.Typer(help="Kefu 客服 — customer service for online shops", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(demo_app, name="demo")
app.add_typer(import_app, name="import")
app.add_typer(bot_app, name="bot")
app.add_typer(nlp_app, name="nlp")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from kefu.core.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"数据库已升级到 {revision} / database upgraded")


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(prompt="用户名 / username")],
    display_name: Annotated[str, typer.Option()] = "管理员",
    password: Annotated[str | None, typer.Option(help="prompted when omitted")] = None,
) -> None:
    """Create an administrator."""
    from kefu.accounts.permissions import Role
    from kefu.accounts.service import create_user
    from kefu.core.audit import Actor
    from kefu.core.db import Database
    from kefu.core.errors import KefuError
    from kefu.core.migrate import upgrade

    settings = get_settings()
    if password is None:
        password = getpass.getpass("密码 / password: ")

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            async for session in db.session():
                await create_user(
                    session,
                    Actor.system("cli"),
                    username=username,
                    password=password,
                    display_name=display_name,
                    role=Role.admin,
                )
        finally:
            await db.dispose()

    upgrade(settings.database_url)
    try:
        asyncio.run(run())
    except KefuError as exc:
        typer.echo(f"错误：{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已创建管理员 {username} / admin created")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="web processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="apply migrations first")] = True,
    demo: Annotated[bool, typer.Option(help="load the demo shop into an empty database")] = False,
) -> None:
    """Serve the UI and the API."""
    import uvicorn

    from kefu.core.migrate import upgrade

    settings = get_settings()
    if migrate:
        upgrade(settings.database_url)
    if demo:
        from kefu.demo.loader import load_demo_if_empty

        asyncio.run(load_demo_if_empty(settings.database_url, echo=typer.echo))
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"Kefu 客服 正在运行：http://{host}:{port}/")
    uvicorn.run(
        "kefu.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
    )


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="exit when the queue is empty")] = False,
) -> None:
    """Run background jobs and sweeps (cluster mode, needs KEFU_REDIS_URL)."""
    from kefu.worker import run_worker

    settings = get_settings()
    if not settings.redis_url:
        typer.echo("需要设置 KEFU_REDIS_URL / KEFU_REDIS_URL is required for workers", err=True)
        raise typer.Exit(2)
    run_worker(settings.redis_url, burst=burst)


def main() -> None:  # pragma: no cover
    app()
