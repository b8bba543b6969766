"""Evaluate the shipped sentiment model on the held-out split, against SnowNLP.

The split is the one `kefu nlp train-sentiment` uses (MD5 of the text, ~10 %), restricted to the
two corpora in ../shared/datasets/sentiment/, so the model never saw these texts. Prints
accuracy and negative-class F1 for Kefu's model and for SnowNLP (benchmark-only dependency:
`.venv/bin/pip install snownlp`), Kefu's throughput in texts/s, and the accuracy on the
hand-written e-commerce reviews in tests/nlp/data/ (also never trained on).

Last line: `sentiment: accuracy=… negative_f1=… snownlp_negative_f1=… texts_per_s=…`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "sentiment"
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="*",
        default=[DATA / "ChnSentiCorp_htl_all.csv", DATA / "waimai_10k.csv"],
    )
    parser.add_argument("--no-snownlp", action="store_true")
    args = parser.parse_args()

    from kefu.nlp.sentiment import get_model, is_test, metrics, read_corpus

    test = [e for path in args.corpus for e in read_corpus(path) if is_test(e.text)]
    texts = [e.text for e in test]
    labels = [e.label for e in test]
    model = get_model()
    model.negative_probs(texts[:50])  # warm-up
    start = time.perf_counter()
    probs = model.negative_probs(texts)
    elapsed = time.perf_counter() - start
    ours = metrics(labels, probs)
    tps = len(texts) / elapsed
    print(f"held-out split: {len(test)} texts from {', '.join(p.name for p in args.corpus)}")
    print(f"kefu: accuracy={ours.accuracy} negative_f1={ours.negative_f1} texts/s={tps:.0f}")

    shop_file = ROOT / "tests" / "nlp" / "data" / "ecommerce_sentiment.tsv"
    rows = [ln.split("\t") for ln in shop_file.read_text(encoding="utf-8").splitlines() if ln]
    shop = metrics([int(r[0]) for r in rows], model.negative_probs([r[1] for r in rows]))
    print(f"kefu on {len(rows)} hand-written shop reviews: accuracy={shop.accuracy}")

    snow_f1 = float("nan")
    if not args.no_snownlp:
        try:
            from snownlp import SnowNLP
        except ImportError:
            print("snownlp not installed: .venv/bin/pip install snownlp")
        else:
            start = time.perf_counter()
            snow_probs = [1.0 - SnowNLP(t).sentiments for t in texts]
            snow_elapsed = time.perf_counter() - start
            snow = metrics(labels, snow_probs)
            snow_f1 = snow.negative_f1
            snow_shop = metrics(
                [int(r[0]) for r in rows], [1.0 - SnowNLP(r[1]).sentiments for r in rows]
            )
            print(
                f"snownlp: accuracy={snow.accuracy} negative_f1={snow.negative_f1} "
                f"texts/s={len(texts) / snow_elapsed:.0f}; shop reviews accuracy="
                f"{snow_shop.accuracy}"
            )
    print(
        f"sentiment: accuracy={ours.accuracy:.4f} negative_f1={ours.negative_f1:.4f} "
        f"snownlp_negative_f1={snow_f1:.4f} texts_per_s={tps:.0f}"
    )


if __name__ == "__main__":
    main()
