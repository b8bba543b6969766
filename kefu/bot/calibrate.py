"""Fit the retrieval confidence (`Calibration`) without touching any evaluation set.

Positives come from the knowledge base itself: each phrasing of an entry is used as a query
against an index built *without* that phrasing (leave one out), so it stands in for an unseen
paraphrase; the case counts as positive only when the right entry comes first. Negatives are the
out-of-scope messages in `kefu/bot/data/out_of_scope.txt` plus the leave-one-out queries whose
top entry is wrong. A logistic regression on (query coverage, document coverage, margin) gives
the constants, which are then written into `Calibration`'s defaults by hand.

Run: ``.venv/bin/python -m kefu.bot.calibrate --kb KB.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np

from kefu.bot.retrieval import Calibration, FaqEntry, FaqRetriever, TextAnalyzer, load_entries


def out_of_scope_messages() -> list[str]:
    text = (resources.files("kefu.bot") / "data" / "out_of_scope.txt").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def collect(entries: list[FaqEntry], analyzer: TextAnalyzer) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (q, d, margin) and labels (1 = right entry first)."""
    rows: list[tuple[float, float, float]] = []
    labels: list[int] = []
    for i, entry in enumerate(entries):
        phrasings = entry.phrasings()
        if len(phrasings) < 2:
            continue
        for j, held_out in enumerate(phrasings):
            rest = [p for k, p in enumerate(phrasings) if k != j]
            reduced = replace(entry, question=rest[0], similar=tuple(rest[1:]))
            retriever = FaqRetriever([*entries[:i], reduced, *entries[i + 1 :]], analyzer)
            hit = _top(retriever, held_out)
            if hit is None:
                continue
            rows.append(hit[0])
            labels.append(1 if hit[1] == entry.id else 0)
    full = FaqRetriever(entries, analyzer)
    for message in out_of_scope_messages():
        hit = _top(full, message)
        if hit is not None:
            rows.append(hit[0])
            labels.append(0)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.float64)


def _top(retriever: FaqRetriever, text: str) -> tuple[tuple[float, float, float], str] | None:
    hits = retriever.search(text, limit=2)
    if not hits:
        return None
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else 0.0
    margin = (top.score - second) / top.score if top.score > 0 else 0.0
    return (top.query_coverage, top.doc_coverage, margin), top.entry.id


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.1, steps: int = 50) -> np.ndarray:
    """Newton's method for L2-regularised logistic regression; returns weights then bias."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.eye(xb.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def main() -> None:  # pragma: no cover - developer tool
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=Path, required=True)
    args = parser.parse_args()
    entries = load_entries(json.loads(args.kb.read_text(encoding="utf-8")))
    analyzer = TextAnalyzer()
    x, y = collect(entries, analyzer)
    w = fit_logistic(x, y)
    print(f"cases={len(y)} positives={int(y.sum())}")
    print(
        f"Calibration(query_coverage={w[0]:.2f}, doc_coverage={w[1]:.2f}, "
        f"margin={w[2]:.2f}, bias={w[3]:.2f})"
    )
    cal = Calibration(*(round(float(v), 2) for v in w))
    conf = np.array([cal.confidence(*row) for row in x])
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        pos = conf[y == 1]
        neg = conf[y == 0]
        print(f"t={t:.1f} recall={np.mean(pos >= t):.3f} false_accept={np.mean(neg >= t):.3f}")


if __name__ == "__main__":  # pragma: no cover
    main()
