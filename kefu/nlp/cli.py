"""`kefu nlp ...` commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

nlp_app = typer.Typer(help="Chinese text tools", no_args_is_help=True)

DEFAULT_CORPORA = (
    "../shared/datasets/sentiment/ChnSentiCorp_htl_all.csv",
    "../shared/datasets/sentiment/waimai_10k.csv",
)


@nlp_app.command("sentiment")
def sentiment(
    model: Annotated[
        Path | None, typer.Option(help="model .npz (default: the shipped model)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="texts scored per batch")] = 256,
) -> None:
    """Read JSON lines {"text": …} on stdin; write {"label", "negative_prob"} lines."""
    from kefu.nlp.sentiment import SentimentModel, SentimentResult, get_model

    if model is not None and not model.is_file():
        typer.echo(f"错误：找不到模型文件 {model} / error: model not found: {model}", err=True)
        raise typer.Exit(2)
    scorer = SentimentModel.load(model) if model else get_model()

    def flush(texts: list[str | None]) -> None:
        real = [t for t in texts if t and t.strip()]
        scored = iter(scorer.predict(real))
        for t in texts:
            result = next(scored) if t and t.strip() else SentimentResult("neutral", 0.5)
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    pending: list[str | None] = []
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item.get("text") if isinstance(item, dict) else None
        except json.JSONDecodeError:
            text = None
        if not isinstance(text, str):
            typer.echo(
                f'第 {number} 行不是 {{"text": …}}，按中性输出 / line {number} is not '
                '{"text": …}, written as neutral',
                err=True,
            )
            text = None
        pending.append(text)
        if len(pending) >= batch:
            flush(pending)
            pending = []
    if pending:
        flush(pending)


@nlp_app.command("train-sentiment")
def train_sentiment_command(
    corpus: Annotated[
        list[Path] | None,
        typer.Option(help="label,review CSV (repeat); default: the two shared corpora"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="model file (default: the shipped one)")] = None,
    c: Annotated[float, typer.Option(help="inverse regularisation strength")] = 4.0,
    no_ecommerce: Annotated[
        bool, typer.Option("--no-ecommerce", help="leave out the hand-written shop sentences")
    ] = False,
) -> None:
    """Train the sentiment model (deterministic split), print metrics, write the model."""
    from kefu.nlp.sentiment import default_model_path, train_sentiment

    paths = list(corpus) if corpus else [Path(p) for p in DEFAULT_CORPORA]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        typer.echo(
            f"错误：找不到语料 {', '.join(map(str, missing))} / error: corpus not found",
            err=True,
        )
        raise typer.Exit(2)
    target = out or default_model_path()
    try:
        result = train_sentiment(paths, target, include_ecommerce=not no_ecommerce, c=c)
    except ValueError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    typer.echo(f"模型已写入 {target} / model written to {target}")
