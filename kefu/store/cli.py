"""`kefu store ...` commands."""

from __future__ import annotations

import typer

import_app = typer.Typer(help="Import the shop's data from files", no_args_is_help=True)
