"""`kefu import ...` commands: order files into a store, and the file template."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

import typer

from kefu.core.config import get_settings

import_app = typer.Typer(help="Import the shop's data from files", no_args_is_help=True)


@import_app.command("orders")
def import_orders_command(
    file: Annotated[Path, typer.Argument(help="订单文件 .csv 或 .xlsx，每行一个订单商品")],
    store: Annotated[str, typer.Option("--store", help="店铺代码 (Store.code)")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="跳过有错误的订单，导入其余订单")
    ] = False,
) -> None:
    """Import orders from FILE into STORE. A file with errors imports nothing (exit code 1)
    unless --skip-invalid is given; re-importing the same file changes nothing."""
    from kefu.core.audit import Actor
    from kefu.core.db import Database
    from kefu.core.errors import KefuError
    from kefu.store.importer import ImportReport, import_order_file
    from kefu.store.service import get_active_store

    if not file.is_file():
        typer.echo(f"错误：找不到文件 {file} / file not found", err=True)
        raise typer.Exit(2)
    data = file.read_bytes()
    settings = get_settings()

    async def run() -> ImportReport:
        import kefu.models  # noqa: F401 - every table, for foreign keys

        db = Database(settings.database_url)
        try:
            async with db.sessionmaker() as session:
                found = await get_active_store(session, store)
                actor = Actor("system", None, f"cli:{getpass.getuser()}")
                report = await import_order_file(
                    session, actor, found, file.name, data, skip_invalid=skip_invalid
                )
                if report.imported:
                    await session.commit()
                return report
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except KefuError as exc:
        typer.echo(f"错误：{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from exc

    for error in report.errors:
        typer.echo(str(error), err=True)
    if not report.imported:
        typer.echo(
            f"导入失败：{len(report.errors)} 处错误，未导入任何订单。"
            "修正后重新导入，或使用 --skip-invalid 跳过有错误的订单。"
            f" / {len(report.errors)} error(s); nothing imported.",
            err=True,
        )
        raise typer.Exit(1)
    c = report.counts
    typer.echo(
        f"已处理 {report.rows} 行、{report.orders} 个订单：新建 {c['created']}，"
        f"更新 {c['updated']}，未变 {c['unchanged']}，过期 {c['stale']}"
        + (f"，跳过 {len(report.skipped_orders)} 个有错误的订单" if report.skipped_orders else "")
    )


@import_app.command("template")
def template_command(
    out: Annotated[Path, typer.Argument(help="写入的文件名")] = Path("订单导入模板.csv"),
) -> None:
    """Write the order import template (CSV with every column and an example order)."""
    from kefu.store.importer import template_csv

    out.write_bytes(template_csv())
    typer.echo(f"模板已写入 {out} / template written")
