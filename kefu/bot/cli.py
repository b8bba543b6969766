"""`kefu bot ...` commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

bot_app = typer.Typer(help="The bot", no_args_is_help=True)


@bot_app.callback()
def bot_main() -> None:
    """The bot (a callback keeps `predict` a sub-command even while it is the only one)."""


def _fail(zh: str, en: str) -> typer.Exit:
    typer.echo(f"错误：{zh} / error: {en}", err=True)
    return typer.Exit(2)


@bot_app.command("predict")
def predict(
    kb: Annotated[Path, typer.Option(help="knowledge base JSON (list of FAQ entries)")],
    intents: Annotated[Path, typer.Option(help="intents JSON (list of {intent, examples})")],
    synonyms: Annotated[
        Path | None, typer.Option(help="shop synonym table applied over the default")
    ] = None,
) -> None:
    """Read JSON lines {"text": …} on stdin; write {"text","label","confidence","slots"} lines.

    Uses the live bot's pipeline on a fresh in-memory knowledge base built from KB.
    """
    from kefu.bot.pipeline import BotPipeline
    from kefu.nlp.synonyms import SynonymTableError

    for path in (kb, intents, *([synonyms] if synonyms else [])):
        if not path.is_file():
            raise _fail(f"找不到文件 {path}", f"file not found: {path}")
    try:
        pipeline = BotPipeline.from_files(kb, intents, synonyms_path=synonyms)
    except (json.JSONDecodeError, KeyError, TypeError, SynonymTableError) as exc:
        raise _fail(
            f"无法读取知识库或意图文件：{exc}", f"cannot read KB or intents: {exc}"
        ) from exc

    out = sys.stdout
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"] if isinstance(item, dict) else None
        except json.JSONDecodeError:
            text = None
        if not isinstance(text, str):
            typer.echo(
                f'第 {number} 行不是 {{"text": …}}，已跳过 / line {number} is not '
                '{"text": …}, skipped',
                err=True,
            )
            out.write(json.dumps({"text": None, "label": "none", "confidence": 0.0, "slots": {}}))
            out.write("\n")
            continue
        result = pipeline.understand(text)
        out.write(json.dumps(result.prediction(), ensure_ascii=False))
        out.write("\n")
        out.flush()
