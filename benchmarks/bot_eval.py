"""Evaluate the bot's understanding pipeline against a labelled message set.

Runs the evaluation contract exactly as a judge would — `kefu bot predict --kb --intents` in a
subprocess, JSON lines in and out — and scores it:

* top-1 accuracy on in-scope cases (the predicted label is in `expect`),
* rejection rate on out-of-scope cases (`expect == ["none"]` and the label is `none`),
* slot accuracy on cases with `slots` (every expected slot has the expected value),

then, in the same run, a plain baseline (rank-bm25 over jieba tokens of question + similar
questions, best match always answered) and the latency per message of `BotPipeline.understand`
on the given knowledge base and on a 10,000-entry one (the given entries plus generated ones).

Usage: .venv/bin/python benchmarks/bot_eval.py [--cases FILE ...] [--kb KB] [--intents INTENTS]
The last line printed is
`bot_eval: top1=… none_rejection=… slot_acc=… p99_ms_10k=… baseline_top1=…`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "faq_bench"
sys.path.insert(0, str(ROOT))


def load_cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def run_predict(kb: Path, intents: Path, texts: list[str]) -> list[dict[str, Any]]:
    kefu = Path(sys.executable).parent / "kefu"
    cmd = (
        [str(kefu)] if kefu.exists() else [sys.executable, "-c", "from kefu.cli import app; app()"]
    )
    cmd += ["bot", "predict", "--kb", str(kb), "--intents", str(intents)]
    stdin = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(rows) != len(texts):
        raise SystemExit(f"predict returned {len(rows)} lines for {len(texts)} inputs")
    for row in rows:
        assert set(row) == {"text", "label", "confidence", "slots"}, row
    return rows


def score(
    cases: list[dict[str, Any]], labels: list[str], slots: list[dict[str, str]]
) -> dict[str, Any]:
    in_scope = [(c, lab) for c, lab in zip(cases, labels, strict=True) if c["expect"] != ["none"]]
    none = [(c, lab) for c, lab in zip(cases, labels, strict=True) if c["expect"] == ["none"]]
    with_slots = [(c, s) for c, s in zip(cases, slots, strict=True) if c.get("slots")]
    top1 = sum(lab in c["expect"] for c, lab in in_scope) / max(len(in_scope), 1)
    rejection = sum(lab == "none" for _, lab in none) / max(len(none), 1)
    slot_acc = (
        sum(all(s.get(k) == v for k, v in c["slots"].items()) for c, s in with_slots)
        / len(with_slots)
        if with_slots
        else None
    )
    return {
        "in_scope": len(in_scope),
        "none": len(none),
        "slot_cases": len(with_slots),
        "top1": round(top1, 4),
        "none_rejection": round(rejection, 4),
        "slot_acc": round(slot_acc, 4) if slot_acc is not None else None,
    }


def baseline_labels(kb: list[dict[str, Any]], texts: list[str]) -> list[str]:
    import jieba
    from rank_bm25 import BM25Okapi

    docs = [jieba.lcut(" ".join([e["question"], *e.get("similar", [])])) for e in kb]
    bm25 = BM25Okapi(docs)
    out = []
    for text in texts:
        scores = bm25.get_scores(jieba.lcut(text))
        best = max(range(len(kb)), key=lambda i: scores[i])
        out.append(f"faq:{kb[best]['id']}")
    return out


_PRODUCTS = """
羽绒服 连衣裙 牛仔裤 卫衣 衬衫 风衣 毛衣 运动鞋 帆布鞋 皮鞋 凉鞋 T恤 短裤 睡衣 围巾 帽子
手套 袜子 双肩包 行李箱 电饭煲 吹风机 加湿器 电热水壶 空气炸锅 榨汁机 剃须刀 电动牙刷 台灯
电风扇 暖风机 吸尘器 扫地机器人 蓝牙耳机 充电宝 数据线 保温杯 床单 枕头 毛巾
"""
_ATTRS = """
重量 功率 尺寸 保质期 产地 充电时间 续航 噪音 容量 电压 材质说明 清洗方法 安装方式 配件 说明书
包装清单 适用人群 厚度 长度 颜色种类 款式 图案 工艺 认证 质检 能耗 档位 插头 质保卡 赠品
"""
PRODUCTS = _PRODUCTS.split()
ATTRS = _ATTRS.split()
TEMPLATES = (
    ("{p}的{a}是多少", ["{p}{a}怎么样", "想问下{p}的{a}"]),
    ("{p}{a}有什么讲究", ["{p}的{a}怎么看", "{a}这方面{p}怎么样"]),
    ("{p}在{a}上有什么区别", ["不同{p}的{a}不一样吗", "{p}{a}哪个好"]),
    ("{p}的{a}在哪里看", ["去哪查{p}的{a}", "{p}{a}写在哪"]),
    ("{p}{a}能不能定制", ["{p}可以改{a}吗", "{p}的{a}能换吗"]),
    ("{p}{a}标注准确吗", ["{p}{a}和页面一样吗", "{p}的{a}是真的吗"]),
    ("{p}新款的{a}", ["今年的{p}{a}有变化吗", "{p}新旧款{a}区别"]),
    ("{p}{a}的常见问题", ["{p}{a}出问题怎么办", "{p}的{a}不对劲"]),
)


def generated_kb(base: list[dict[str, Any]], size: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    combos = [(p, a, t) for p in PRODUCTS for a in ATTRS for t in TEMPLATES]
    rng.shuffle(combos)
    out = list(base)
    n = 0
    while len(out) < size:
        p, a, (q, sims) = combos[n % len(combos)]
        model = f"{chr(65 + (n // len(combos)) % 26)}{100 + n % 900}"
        out.append(
            {
                "id": f"G{n:05d}",
                "category": "商品",
                "question": q.format(p=p, a=a) + f"（{model}款）",
                "similar": [s.format(p=p, a=a) for s in sims],
                "answer": f"{p}{model}款的{a}请以商品详情页为准。",
            }
        )
        n += 1
    return out


def latency(pipeline: Any, texts: list[str], rounds: int = 3) -> dict[str, float]:
    for t in texts[:10]:
        pipeline.understand(t)  # warm caches
    samples: list[float] = []
    for _ in range(rounds):
        for t in texts:
            start = time.perf_counter()
            pipeline.understand(t)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(p99, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=Path, default=DATA / "kb.json")
    parser.add_argument("--intents", type=Path, default=DATA / "intents.json")
    parser.add_argument("--dev", type=Path, default=DATA / "dev.jsonl")
    parser.add_argument("--cases", type=Path, nargs="*", default=[], help="extra case files")
    parser.add_argument("--size", type=int, default=10_000, help="entries in the large KB")
    args = parser.parse_args()

    from kefu.bot.pipeline import BotPipeline

    kb = json.loads(args.kb.read_text(encoding="utf-8"))
    intents = json.loads(args.intents.read_text(encoding="utf-8"))
    dev = load_cases(args.dev)

    rows = run_predict(args.kb, args.intents, [c["text"] for c in dev])
    result = score(dev, [r["label"] for r in rows], [r["slots"] for r in rows])
    base = score(dev, baseline_labels(kb, [c["text"] for c in dev]), [{} for _ in dev])
    print(f"dev ({args.dev.name}): {json.dumps(result)}")
    print(f"baseline rank-bm25 (always answers): top1={base['top1']} none_rejection=0.0")
    for extra in args.cases:
        cases = load_cases(extra)
        extra_rows = run_predict(args.kb, args.intents, [c["text"] for c in cases])
        extra_result = score(
            cases, [r["label"] for r in extra_rows], [r["slots"] for r in extra_rows]
        )
        extra_base = score(
            cases, baseline_labels(kb, [c["text"] for c in cases]), [{}] * len(cases)
        )
        print(f"{extra.name}: {json.dumps(extra_result)} baseline_top1={extra_base['top1']}")

    texts = [c["text"] for c in dev]
    small = BotPipeline.from_data(kb, intents)
    lat_small = latency(small, texts)
    start = time.perf_counter()
    big = BotPipeline.from_data(generated_kb(kb, args.size), intents)
    build_s = time.perf_counter() - start
    lat_big = latency(big, texts)
    big_rows = [big.understand(c["text"]) for c in dev]
    big_result = score(dev, [u.label for u in big_rows], [u.slots for u in big_rows])
    print(f"latency {len(kb)} entries: {json.dumps(lat_small)}")
    print(
        f"latency {args.size} entries: {json.dumps(lat_big)} (index build {build_s:.1f} s; "
        f"dev top1 {big_result['top1']} none_rejection {big_result['none_rejection']})"
    )
    print(
        f"bot_eval: top1={result['top1']:.3f} none_rejection={result['none_rejection']:.3f} "
        f"slot_acc={result['slot_acc'] or 0.0:.3f} p99_ms_10k={lat_big['p99_ms']:.2f} "
        f"baseline_top1={base['top1']:.3f}"
    )


if __name__ == "__main__":
    main()
