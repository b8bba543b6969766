"""`kefu bot ...` commands."""

from __future__ import annotations

import typer

bot_app = typer.Typer(help="The bot", no_args_is_help=True)
