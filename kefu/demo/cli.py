"""`kefu demo ...` commands."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

demo_app = typer.Typer(help="The demo shop", no_args_is_help=True)


@demo_app.command("load")
def load(
    migrate: Annotated[bool, typer.Option(help="apply migrations first")] = True,
) -> None:
    """Load the demo shop 栖木生活 into an empty database (does nothing if it has data)."""
    from kefu.core.config import get_settings
    from kefu.demo.loader import load_demo_if_empty

    settings = get_settings()
    if migrate:
        from kefu.core.migrate import upgrade

        upgrade(settings.database_url)
    loaded = asyncio.run(load_demo_if_empty(settings.database_url, echo=typer.echo))
    if loaded:
        typer.echo(
            f"运行 `kefu serve` 后打开 http://{settings.host}:{settings.port}/ 登录 / "
            "run `kefu serve` and sign in"
        )
