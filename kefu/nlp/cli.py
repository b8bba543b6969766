"""`kefu nlp ...` commands."""

from __future__ import annotations

import typer

nlp_app = typer.Typer(help="Chinese text tools", no_args_is_help=True)
