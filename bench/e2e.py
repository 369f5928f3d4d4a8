"""End-to-end throughput of the embedded model inside the graph.

Runs N example questions through the full self-reflective graph with the embedded SmolLM2 (llamacpp,
in-process) and reports generated tokens per second measured inside the LLM nodes, seconds per question
and the status mix. Usage: python bench/e2e.py [--n 4] [--max-rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from scireflect.graph.pipeline import Pipeline
from scireflect.questions import load_questions
from scireflect.settings import Settings
from scireflect.store import open_stores

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-rounds", type=int, default=2)
    ap.add_argument("--file", default=str(ROOT / "examples" / "questions.jsonl"))
    args = ap.parse_args()
    questions = load_questions(args.file).questions[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings(home=Path(tmp), max_rounds=args.max_rounds)
        stores = open_stores(s)
        pipe = Pipeline(s, stores, retriever=None)
        statuses: Counter = Counter()
        toks_out = toks_in = 0
        gen_s = 0.0
        t0 = time.perf_counter()
        for q in questions:
            tr = pipe.run(q)
            statuses[tr.status] += 1
            for e in tr.events:
                if e.tokens_out:
                    toks_out += e.tokens_out
                    toks_in += e.tokens_in
                    gen_s += e.latency_ms / 1000
        wall = time.perf_counter() - t0
    print(f"questions={len(questions)} wall_s={wall:.1f} s_per_question={wall / max(1, len(questions)):.1f}")
    print(f"statuses={dict(statuses)}")
    print(f"prompt_tokens={toks_in} generated_tokens={toks_out} llm_seconds={gen_s:.1f}")
    print(f"embedded_tokens_per_s={toks_out / gen_s:.1f}")


if __name__ == "__main__":
    main()
