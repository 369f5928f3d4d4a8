"""The stores against a real PostgreSQL server (started by the postgres_url fixture)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scireflect.schema import Attempt, Gate, Question, Trace, Verdict

pytestmark = pytest.mark.integration


def _trace(i: int, *, status: str = "accepted_cot", decision: str = "pass", score: float = 0.8,
           subject: str = "physics") -> Trace:
    q = Question(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i), subject=subject, type="numeric",
                 source="unit")
    a = Attempt(stage="cot", solution=f"{i} + {i} = {2 * i}\nThe answer is \\boxed{{{2 * i}}}.",
                extracted_answer=str(2 * i), verdicts=[Verdict(verifier="answer", ok=True, score=1, reason="equal")])
    return Trace(question_id=q.id, question=q, status=status, attempts=[a], model="m", provider="llamacpp",
                 pipeline_version="pv1", gate=Gate(score=score, decision=decision, classifier_version="v1-x"))


def test_migrations_and_records_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    from scireflect.settings import Settings
    from scireflect.store import open_stores
    from scireflect.store.export import export

    stores = open_stores(url=postgres_url)
    try:
        assert stores.revision  # every migration ran on PostgreSQL
        assert open_stores(url=postgres_url).revision == stores.revision  # and a second open is a no-op
        traces = [_trace(i, decision="reject" if i == 5 else "pass", subject="chemistry" if i % 2 else "physics")
                  for i in range(6)]
        for t in traces:
            stores.traces.start(t)
            stores.traces.finish(t)
            assert stores.records.add_from_trace(t) is not None
        stores.records.add_from_trace(traces[0])  # idempotent: same trace id, no second row
        assert stores.records.count(include_rejected=True) == 6
        assert stores.records.count() == 5
        assert stores.records.counts_by("subject", include_rejected=True) == {"chemistry": 3, "physics": 3}
        settings = Settings(home=tmp_path / "ws", database_url=postgres_url)
        res = export(settings, tmp_path / "out.jsonl", "prompt-completion", split=0.6, seed=1, stores=stores)
        assert res.total == 5
        rows = [json.loads(x) for p in res.files.values() for x in p.read_text().splitlines()]
        assert {tuple(sorted(r)) for r in rows} == {("completion", "prompt")}
    finally:
        stores.close()


def test_concurrent_writers_keep_one_record_per_trace(postgres_url: str) -> None:
    from scireflect.store import open_stores

    stores = open_stores(url=postgres_url)
    traces = [_trace(i) for i in range(10)]

    def write(t: Trace) -> Any:
        return stores.records.add_from_trace(t)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, traces * 3))  # every trace written three times, concurrently
        assert stores.records.count() == 10
        stores.records.update_gate(traces[0].id, Gate(score=0.1, decision="reject", classifier_version="v2"))
        assert stores.records.get(traces[0].id).gate_decision == "reject"
        assert stores.records.count() == 9
    finally:
        stores.close()


def test_store_cli_export_against_postgres(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from scireflect.cli import app
    from scireflect.store import open_stores

    stores = open_stores(url=postgres_url)
    for i in range(3):
        stores.records.add_from_trace(_trace(i))
    stores.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCIREFLECT_DATABASE_URL", postgres_url)
    out = tmp_path / "sft.jsonl"
    res = CliRunner().invoke(app, ["store", "export", "--format", "sharegpt", "--out", str(out),
                                   "--home", str(tmp_path / "ws")])
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 3
    res = CliRunner().invoke(app, ["store", "stats", "--json", "--home", str(tmp_path / "ws")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["records"] == 3
