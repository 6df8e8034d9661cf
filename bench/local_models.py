"""Local engines side by side: load time, time to first token, decode speed, peak memory.

Each (engine, quantization) runs in its own fresh process so load time and peak RSS are its
own. The baseline for the ratios is llama.cpp (the default engine), measured in the same run.

    .venv/bin/python bench/local_models.py [--runs 3] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [
    ("smollm2-135m", "none"),
    ("smollm2-135m-transformers", "none"),
    ("smollm2-135m-transformers", "8bit"),
    ("smollm2-135m-transformers", "4bit"),
]
PROMPT = "Write a short paragraph about the sea."


def measure_one(name: str, quantization: str, runs: int, max_tokens: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from models.catalog import load_catalog
    from models.factory import build_chat_model

    spec = next(s for s in load_catalog() if s.name == name)
    spec = spec.model_copy(update={"quantization": quantization})
    if spec.provider == "huggingface_local":  # convert outside the timed load
        from models.local_weights import ensure_converted

        ensure_converted(spec.source)
    started = time.perf_counter()
    chat = build_chat_model(spec, params={"temperature": 0, "max_tokens": max_tokens})
    chat.invoke("hi", max_tokens=1) if spec.provider == "llamacpp" else None  # engine fully up
    load_s = time.perf_counter() - started
    ttfts, rates = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        first = None
        total = None
        for chunk in chat.stream(PROMPT):
            if chunk.text and first is None:
                first = time.perf_counter()
            total = chunk if total is None else total + chunk
        end = time.perf_counter()
        tokens = (total.usage_metadata or {}).get("output_tokens", 0)
        ttfts.append(first - t0)
        rates.append((tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "engine": spec.provider,
        "quantization": quantization,
        "load_s": load_s,
        "ttft_ms": statistics.median(ttfts) * 1000,
        "decode_tok_s": statistics.median(rates),
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "QUANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        print(json.dumps(measure_one(*args.one, args.runs, args.max_tokens)))
        return
    rows = []
    for name, quant in CONFIGS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                name,
                quant,
                "--runs",
                str(args.runs),
                "--max-tokens",
                str(args.max_tokens),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode:
            print(f"{name} {quant}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]
    print(f"cores: {os.cpu_count()}, runs per config: {args.runs}, max_tokens: {args.max_tokens}")
    print(
        f"{'engine':18} {'quant':5} {'load s':>7} {'TTFT ms':>8} {'decode tok/s':>13} {'peak RSS MB':>12} "
        f"{'speed vs llama.cpp':>19}"
    )
    for r in rows:
        ratio = r["decode_tok_s"] / base["decode_tok_s"] if base["decode_tok_s"] else float("nan")
        print(
            f"{r['engine']:18} {r['quantization']:5} {r['load_s']:7.2f} {r['ttft_ms']:8.1f} "
            f"{r['decode_tok_s']:13.1f} {r['peak_rss_mb']:12.0f} {ratio:18.2f}x"
        )


if __name__ == "__main__":
    main()
