"""`kefu demo ...` commands."""

from __future__ import annotations

import typer

demo_app = typer.Typer(help="The demo shop", no_args_is_help=True)
