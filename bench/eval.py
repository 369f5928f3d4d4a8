"""Benchmark: evaluation throughput (items/s, generation + scoring + storage; model loading excluded).

1. The embedded SmolLM2 through transformers (``--provider hf``): batched (``--batch`` items per
   ``generate``) against one item at a time, on the same items with the same greedy settings.
2. The embedded SmolLM2 in-process with llama.cpp (``--provider llamacpp``), one at a time.
3. OpenAI-compatible servers at concurrency 16 against 1: a real ``llama_cpp.server`` with the
   embedded GGUF, and scireflect's scripted test server with a fixed latency per call (what a remote
   endpoint looks like: the harness's concurrency, not the model, sets the rate).

    .venv/bin/python bench/eval.py [--items 16] [--max-tokens 32] [--batch 8] [--server-items 32]
                                   [--latency-ms 200] [--threads N] [--skip-server] [--home DIR] [--json OUT]

Last line: ``embedded_items_per_s=<float> batched_speedup=<float>`` (hf batched; batched / one at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests/integration/llama_server.py starts the real server


def run(settings: Any, name: str, provider: str, n: int, backend: Any = None, **cfg: Any) -> dict[str, Any]:
    from scireflect.evaluation.runner import EvalConfig, evaluate

    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", provider=provider, limit=n, run=name, fresh=True,
                                         style="cot", **cfg), backend=backend)
    t = meta["timing"]
    row = {"run": name, "items": t["generated"], "elapsed_s": t["elapsed_s"], "items_per_s": t["items_per_s"],
           "accuracy": meta["summary"]["overall"]["accuracy"], "failed": meta["counts"]["failed"]}
    print(f"{name:<28} {row['items']:>4} items  {row['elapsed_s']:>8.2f} s  {row['items_per_s']:>8.3f} items/s  "
          f"accuracy {row['accuracy']:.2f}", flush=True)
    return row


def embedded_hf(settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    from scireflect.evaluation.backends import make_backend

    t0 = time.perf_counter()
    batched = make_backend("hf", settings, concurrency=args.batch)
    load_s = time.perf_counter() - t0
    print(f"hf base ready in {load_s:.1f} s (GGUF conversion on first use, then a plain checkpoint load)", flush=True)
    single = make_backend("hf", settings, concurrency=1)  # the same cached model, batch size 1
    one = run(settings, "hf-one-at-a-time", "hf", args.items, backend=single)
    many = run(settings, f"hf-batched-{args.batch}", "hf", args.items, backend=batched)
    return {"load_s": load_s, "one": one, "batched": many, "speedup": many["items_per_s"] / one["items_per_s"]}


def servers(settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    from scireflect.llm import embedded_gguf
    from scireflect.testing.openai_server import ServerProcess
    from tests.integration.llama_server import llama_server

    out: dict[str, Any] = {}
    with llama_server(embedded_gguf()) as url:
        s = settings.model_copy(update={"base_url": url, "model": "smollm2"})
        out["llama_cpp_server_c1"] = run(s, "llama.cpp-server-c1", "openai", args.items, concurrency=1)
        out["llama_cpp_server_c16"] = run(s, "llama.cpp-server-c16", "openai", args.items, concurrency=16)
    with ServerProcess(latency_ms=args.latency_ms) as srv:
        s = settings.model_copy(update={"base_url": srv.url, "model": "scripted"})
        out["scripted_c1"] = run(s, f"scripted-{args.latency_ms:g}ms-c1", "openai", min(args.server_items, 16),
                                 concurrency=1)
        out["scripted_c16"] = run(s, f"scripted-{args.latency_ms:g}ms-c16", "openai", args.server_items,
                                  concurrency=16)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=16, help="items for the embedded-model runs (max 24)")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--batch", type=int, default=8, help="batch size of the batched hf run")
    p.add_argument("--server-items", type=int, default=24, help="items for the scripted-server runs (max 24)")
    p.add_argument("--latency-ms", type=float, default=200.0, help="scripted server latency per call")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and llama.cpp (default: theirs)")
    p.add_argument("--skip-server", action="store_true")
    p.add_argument("--home", type=Path, default=None, help="workspace (default: a temporary one)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from scireflect.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=args.home or Path(tmp), max_tokens=args.max_tokens, temperature=0.0,
                            max_retries=2, retry_base_s=0.05, n_threads=args.threads)
        print(f"cpu cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}", flush=True)
        result: dict[str, Any] = {"items": args.items, "max_tokens": args.max_tokens, "batch": args.batch,
                                  "threads": args.threads, "cpu_count": os.cpu_count(),
                                  "load_average_start": os.getloadavg()[0]}
        result["hf"] = embedded_hf(settings, args)
        result["llamacpp"] = run(settings, "llamacpp-in-process", "llamacpp", args.items)
        if not args.skip_server:
            result["servers"] = servers(settings, args)
        result["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    hf = result["hf"]
    print(f"embedded_items_per_s={hf['batched']['items_per_s']:.4f} batched_speedup={hf['speedup']:.3f}")


if __name__ == "__main__":
    main()
