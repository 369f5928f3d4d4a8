"""Retrieval benchmark: quality on the labeled textbook set, ingestion speed, query latency at scale.

    .venv/bin/python bench/retrieval.py [--sizes 10000,100000] [--queries 200]

1. Ingests examples/textbook with the bundled all-MiniLM-L6-v2 (offline) and reports chunks/s.
2. recall@5 and MRR@10 on examples/retrieval_eval.jsonl for dense, BM25 and hybrid (RRF).
3. p50/p95 latency of ``Retriever.retrieve`` (query embedding + Chroma HNSW + BM25 + fusion + fetch) with
   the textbook plus synthetic chunks up to each size. Synthetic chunks have random-word texts and random
   unit vectors instead of model embeddings (embedding 100k texts on 2 CPU cores would take most of an
   hour); every query is still embedded by the real model, with the query cache cleared.

The last line is ``hybrid_recall_at_5=<float> p95_ms_100k=<float>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from scireflect.settings import Settings  # noqa: E402
from scireflect.tools.retrieval import store  # noqa: E402
from scireflect.tools.retrieval.ingest import ingest  # noqa: E402
from scireflect.tools.retrieval.retriever import Retriever, build_index  # noqa: E402

TEXTBOOK = ROOT / "examples" / "textbook"
EVAL = ROOT / "examples" / "retrieval_eval.jsonl"
SUBJECTS = ("physics", "chemistry", "mathematics")


def quality(retriever: Retriever, rows: list[dict]) -> dict[str, dict[str, float]]:
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        hits3, hits5, rr = 0, 0, 0.0
        for r in rows:
            got = retriever.search(r["question"], 10, mode=mode)
            ranks = [i for i, c in enumerate(got, 1) if c.source == r["source"] and c.section == r["section"]]
            hits3 += bool(ranks and ranks[0] <= 3)
            hits5 += bool(ranks and ranks[0] <= 5)
            rr += 1.0 / ranks[0] if ranks else 0.0
        n = len(rows)
        out[mode] = {"recall_at_3": hits3 / n, "recall_at_5": hits5 / n, "mrr_at_10": rr / n}
    return out


def synthetic(n: int, start: int, vocab: list[str], rng: np.random.Generator):
    """n chunks of 60-140 words drawn with a Zipf-like skew, random unit vectors, spread metadata."""
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    weights /= weights.sum()
    lengths = rng.integers(60, 141, size=n)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=weights)
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    pos = 0
    ids, docs, metas = [], [], []
    for i in range(n):
        ln = int(lengths[i])
        docs.append(" ".join(vocab[w] for w in words[pos:pos + ln]) + ".")
        pos += ln
        j = start + i
        ids.append(f"syn{j:07d}")
        metas.append({"source": f"synthetic/book{j // 500:04d}.txt", "filename": f"book{j // 500:04d}.txt",
                      "path": f"/synthetic/book{j // 500:04d}.txt", "subject": SUBJECTS[j % 3],
                      "section": f"Section {j % 97}", "ordinal": j % 500})
    return ids, docs, vecs, metas


def grow(col, target: int, vocab: list[str], rng: np.random.Generator, max_batch: int) -> float:
    """Adds synthetic chunks until the collection holds ``target``; returns seconds spent in Chroma."""
    spent = 0.0
    while col.count() < target:
        n = min(max_batch, target - col.count())
        ids, docs, vecs, metas = synthetic(n, col.count(), vocab, rng)
        t = time.perf_counter()
        col.add(ids=ids, documents=docs, embeddings=vecs, metadatas=metas)
        spent += time.perf_counter() - t
    return spent


def latency(retriever: Retriever, queries: list[str], filters: dict | None = None,
            priority: bool = False) -> dict[str, float]:
    total, embed = [], []
    with _raised_priority(priority):
        for q in queries:
            _one(retriever, q, filters, total, embed)
    pct = lambda v, p: float(np.percentile(v, p))  # noqa: E731
    return {"p50_ms": pct(total, 50), "p95_ms": pct(total, 95), "embed_p50_ms": pct(embed, 50),
            "embed_p95_ms": pct(embed, 95)}


@contextlib.contextmanager
def _raised_priority(on: bool):
    """nice -10 for this thread while timing queries (root only): on a machine shared with other jobs this
    approximates a dedicated 2-core box. Short queries run torch on the calling thread, so this covers them."""
    if not on:
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, -10)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def _one(retriever: Retriever, q: str, filters: dict | None, total: list, embed: list) -> None:
    """Times the query embedding alone, then the whole retrieve (embedding again: the cache is cleared)."""
    retriever.clear_cache()
    t0 = time.perf_counter()
    retriever._embed(q)
    t1 = time.perf_counter()
    retriever.clear_cache()
    retriever.retrieve(q, 5, filters)
    t2 = time.perf_counter()
    embed.append((t1 - t0) * 1000)
    total.append((t2 - t1) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="collection sizes for the latency test")
    ap.add_argument("--queries", type=int, default=200, help="queries per latency measurement")
    ap.add_argument("--keep", help="keep the workspace in this folder instead of a temporary one")
    ap.add_argument("--priority", action="store_true",
                    help="time queries at nice -10 (root), to approximate a dedicated machine when others share it")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="scireflect-bench-"))
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    rows = [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]
    print(f"cpu cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}"
          + (", queries timed at nice -10" if args.priority else ""), flush=True)

    from scireflect.tools.retrieval.embeddings import SentenceTransformerEmbedding

    t = time.perf_counter()
    SentenceTransformerEmbedding()(["load the model before timing ingestion"])
    print(f"model load: {time.perf_counter() - t:.1f} s", flush=True)
    report = ingest([TEXTBOOK], settings)
    ingest_rate = report.chunks_added / report.seconds
    print(f"ingest: {report.files} files, {report.chunks_added} chunks in {report.seconds:.2f} s "
          f"= {ingest_rate:.1f} chunks/s", flush=True)

    retriever = Retriever.open(settings)
    q = quality(retriever, rows)
    print(f"\n| mode | recall@3 | recall@5 | MRR@10 |  (n={len(rows)} labeled questions)\n|---|---|---|---|")
    for mode, m in q.items():
        print(f"| {mode} | {m['recall_at_3']:.3f} | {m['recall_at_5']:.3f} | {m['mrr_at_10']:.3f} |")

    base = [r["question"] for r in rows]
    prefixes = ["", "Explain: ", "In words, ", "Textbook question: ", "Show that ", "Briefly, "]
    queries = [p + b for p in prefixes for b in base][:args.queries]
    rng = np.random.default_rng(0)
    vocab = _vocab(TEXTBOOK, rng)
    col = retriever.collection
    max_batch = 4000  # under Chroma's limit per add() for a local client
    results = {}
    print("\n| chunks | p50 ms | p95 ms | p95 ms (subject filter) | query embedding p50/p95 ms | "
          "Chroma add s | local index build s |\n|---|---|---|---|---|---|---|", flush=True)
    for size in sizes:
        add_s = grow(col, size, vocab, rng, max_batch)
        store.bump_generation(col)
        t = time.perf_counter()
        build_index(col, store.bm25_dir(settings))
        bm25_s = time.perf_counter() - t
        r = Retriever.open(settings)
        r.warmup()
        latency(r, queries[:10])  # first queries touch cold pages
        lat = latency(r, queries, priority=args.priority)
        lat_f = latency(r, queries[: max(20, len(queries) // 2)], {"subject": "physics"}, priority=args.priority)
        results[size] = lat
        print(f"| {size:,} | {lat['p50_ms']:.1f} | {lat['p95_ms']:.1f} | {lat_f['p95_ms']:.1f} | "
              f"{lat['embed_p50_ms']:.1f} / {lat['embed_p95_ms']:.1f} | {add_s:.1f} | {bm25_s:.1f} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    p95_100k = results.get(100000, {}).get("p95_ms", float("nan"))
    print(f"hybrid_recall_at_5={q['hybrid']['recall_at_5']:.4f} p95_ms_100k={p95_100k:.2f}")


def _vocab(folder: Path, rng: np.random.Generator) -> list[str]:
    """The textbook's words mixed into 30,000 made-up ones, so the Zipf tail is as long as a real book's."""
    import re

    words: set[str] = set()
    for f in folder.rglob("*"):
        if f.is_file():
            words |= set(re.findall(r"[A-Za-z][A-Za-z'-]{1,20}", f.read_text(encoding="utf-8")))
    made_up = [f"x{np.base_repr(i, 36).lower()}q" for i in range(30000)]
    vocab = sorted(words) + made_up
    rng.shuffle(vocab)
    return vocab


if __name__ == "__main__":
    main()
