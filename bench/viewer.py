"""Trace viewer benchmark: server time of the list page and of a trace page with 10,000 stored traces.

Fills a fresh SQLite workspace with 10,000 realistic traces (4 to 12 events each, written through the
TraceStore as the graph writes them), starts ``scireflect traces serve`` in a subprocess, and requests
list pages (filters, search, deep pages) and trace pages. Server time is the app's own
``Server-Timing`` header: store queries plus template rendering, without network and client time
(both are printed too).

    .venv/bin/python bench/viewer.py [--traces 10000] [--requests 200] [--workspace DIR]

``--workspace DIR`` keeps the filled store there and reuses it on the next run (filling 10,000 traces
through the store takes a few minutes on 2 busy cores).

Last line: ``list_p95_ms=<float> trace_p95_ms=<float>``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from scireflect.testing.process import free_port, served

LIST_URLS = ["/", "/?page=2", "/?page=37", "/?page=199", "/?status=rejected", "/?status=accepted_reflection&page=5",
             "/?subject=physics&stage=reflection", "/?q=variant+77", "/?q=km", "/?verdict=steps:fail",
             "/?verdict=answer:ok&subject=chemistry", "/?min_score=0.5&max_score=0.8",
             "/?status=accepted_cot&min_score=0.6&per_page=200"]


def fill(home: Path, n: int) -> None:
    from scireflect.settings import Settings
    from scireflect.store import open_stores
    from scireflect.viewer.samples import sample_trace, store_trace

    stores = open_stores(Settings(home=home))
    have = stores.traces.count()
    if have == n:
        print(f"  reusing {n} traces in {home}", file=sys.stderr)
        stores.close()
        return
    if have:
        raise SystemExit(f"{home} holds {have} traces, not {n}; use an empty --workspace")
    t0 = time.perf_counter()
    for i in range(n):
        store_trace(stores, sample_trace(i, run_id=f"r_bench{i // 2500}"))
        if (i + 1) % 2500 == 0:
            print(f"  stored {i + 1} traces ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    stores.close()


def measure(client: httpx.Client, urls: list[str], n: int) -> tuple[list[float], list[float]]:
    server, wall = [], []
    for i in range(n):
        url = urls[i % len(urls)]
        t0 = time.perf_counter()
        r = client.get(url)
        wall.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"GET {url} -> {r.status_code}")
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
    return server, wall


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 20 else max(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200, help="timed requests per page kind")
    ap.add_argument("--workspace", type=Path, help="keep (and reuse) the filled workspace here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="scireflect-viewer-bench-") as tmp:
        home = args.workspace or Path(tmp) / "ws"
        print(f"storing {args.traces} traces ...", file=sys.stderr)
        fill(home, args.traces)
        port = free_port()
        cmd = [sys.executable, "-c", "from scireflect.cli import main; main()", "traces", "serve",
               "--home", str(home), "--port", str(port)]
        with served(cmd, f"http://127.0.0.1:{port}/healthz", name="traces serve"):
            rng = random.Random(0)
            trace_urls = [f"/traces/t_{rng.randrange(args.traces):06d}" for _ in range(args.requests)]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                measure(client, LIST_URLS + trace_urls[:10], len(LIST_URLS) + 10)  # warm caches and imports
                list_server, list_wall = measure(client, LIST_URLS, args.requests)
                trace_server, trace_wall = measure(client, trace_urls, args.requests)
    print(f"traces stored: {args.traces}; requests per kind: {args.requests}")
    print(f"{'page':<8}{'server p50':>12}{'server p95':>12}{'client p50':>12}{'client p95':>12}  (ms)")
    for name, s, w in (("list", list_server, list_wall), ("trace", trace_server, trace_wall)):
        print(f"{name:<8}{statistics.median(s):>12.1f}{p95(s):>12.1f}{statistics.median(w):>12.1f}{p95(w):>12.1f}")
    print(f"list_p95_ms={p95(list_server):.1f} trace_p95_ms={p95(trace_server):.1f}")


if __name__ == "__main__":
    main()
