"""RecordStore: training records from accepted traces, provenance, idempotency, the gate's decision."""

from __future__ import annotations

from typing import Any

from scireflect.schema import Attempt, Gate, Question, Trace, Verdict
from scireflect.store.records import prompt_of, record_from_trace


def make_trace(i: int = 1, *, status: str = "accepted_cot", decision: str = "pass", score: float | None = 0.9,
               subject: str = "physics", stage: str = "cot", answer_shown: bool = False,
               choices: list[str] | None = None, run_id: str | None = "r_1") -> Trace:
    q = Question(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i), subject=subject, type="numeric",
                 source="examples/questions.jsonl", choices=choices)
    failed = Attempt(stage="cot", solution="It is 5.", extracted_answer="5",
                     verdicts=[Verdict(verifier="answer", ok=False, reason="unequal")])
    ok = Attempt(stage=stage, round=1 if stage != "cot" else 0, solution=f"{i} + {i} = {2 * i}.\nThe answer is "
                 f"\\boxed{{{2 * i}}}.", extracted_answer=str(2 * i), retrieved=["c1"],
                 verdicts=[Verdict(verifier="answer", ok=True, score=1.0, reason="equal"),
                           Verdict(verifier="steps", ok=True, score=1.0, reason="checked", required=False)])
    attempts = [ok] if stage == "cot" else [failed, ok]
    return Trace(question_id=q.id, question=q, run_id=run_id, status=status, attempts=attempts, model="smollm2",
                 provider="llamacpp", pipeline_version="pv-1", answer_shown=answer_shown,
                 gate=Gate(score=score, decision=decision, classifier_version="v1-abc" if score is not None else None,
                           reason="score 0.9 >= threshold 0.5"))


def test_record_from_an_accepted_trace_has_chatml_and_provenance() -> None:
    t = make_trace(3, stage="reflection", status="accepted_reflection")
    rec = record_from_trace(t)
    assert rec is not None
    assert rec.prompt == "What is 3 + 3?" and rec.completion.endswith("\\boxed{6}.")
    assert rec.messages == [{"role": "user", "content": rec.prompt}, {"role": "assistant", "content": rec.completion}]
    assert rec.stage == "reflection" and rec.gate_decision == "pass" and rec.gate_score == 0.9
    p = rec.provenance
    for key in ("question_id", "question_source", "model", "provider", "pipeline_version", "verdicts",
                "classifier_version", "gate_score", "stage", "answer_shown", "trace_created_at", "recorded_at"):
        assert key in p, key
    assert p["question_source"] == "examples/questions.jsonl" and p["model"] == "smollm2"
    assert [v["verifier"] for v in p["verdicts"]] == ["answer", "steps"]  # the accepted attempt's, not the failed one


def test_prompt_lists_choices() -> None:
    t = make_trace(choices=["1", "2"])
    assert prompt_of(t).endswith("Options:\n(A) 1\n(B) 2")


def test_no_record_for_rejected_error_or_empty_traces() -> None:
    assert record_from_trace(make_trace(status="rejected")) is None
    assert record_from_trace(make_trace(status="error")) is None
    t = make_trace()
    t.attempts = []
    assert record_from_trace(t) is None


def test_add_from_trace_is_idempotent_and_updates(stores: Any) -> None:
    t = make_trace(1)
    assert stores.records.add_from_trace(t) is not None
    t.gate = Gate(score=0.2, decision="reject", classifier_version="v1-abc", reason="score 0.2 < threshold 0.5")
    stores.records.add_from_trace(t)
    assert stores.records.count(include_rejected=True) == 1
    rec = stores.records.get(t.id)
    assert rec.gate_decision == "reject" and rec.provenance["gate_reason"].startswith("score 0.2")
    assert stores.records.add_from_trace(make_trace(2, status="rejected")) is None
    assert stores.records.count(include_rejected=True) == 1


def test_rejected_records_are_kept_but_filtered_by_default(stores: Any) -> None:
    for i, d in enumerate(["pass", "pass", "reject", "skipped"]):
        stores.records.add_from_trace(make_trace(i, decision=d))
    assert stores.records.count(include_rejected=True) == 4
    assert stores.records.count() == 3
    assert stores.records.count(decision="reject") == 1
    assert stores.records.counts_by("gate_decision", include_rejected=True) == {"pass": 2, "reject": 1, "skipped": 1}


def test_filters_and_grouping(stores: Any) -> None:
    stores.records.add_from_trace(make_trace(1, subject="physics", score=0.95))
    stores.records.add_from_trace(make_trace(2, subject="chemistry", score=0.55, stage="with_answer",
                                             status="accepted_with_answer", answer_shown=True))
    stores.records.add_from_trace(make_trace(3, subject="chemistry", score=None, decision="pass", run_id="r_2"))
    r = stores.records
    assert r.count(min_score=0.9) == 1
    assert r.count(subject="chemistry") == 2
    assert r.count(include_answer_shown=False) == 2
    assert r.count(stage="with_answer") == 1
    assert r.count(run_id="r_2") == 1
    assert r.counts_by("stage") == {"cot": 2, "with_answer": 1}
    assert sorted(r.scores()) == [0.55, 0.95]
    assert r.question_ids(subject="chemistry") == ["q2", "q3"]
    assert [x.question_id for x in r.iter(batch=1)] == ["q1", "q2", "q3"]  # batched streaming keeps order


def test_update_gate_after_rescoring(stores: Any) -> None:
    t = make_trace(1)
    stores.records.add_from_trace(t)
    assert stores.records.update_gate(t.id, Gate(score=0.1, decision="reject", classifier_version="v2", reason="r"))
    rec = stores.records.get(t.id)
    assert rec.gate_decision == "reject" and rec.provenance["classifier_version"] == "v2"
    assert stores.records.update_gate("t_missing", Gate()) is False


def test_migration_chain_reaches_head_and_reopens(settings: Any) -> None:
    import sqlalchemy as sa

    from scireflect.store import open_stores

    s1 = open_stores(settings)
    cols = {c["name"] for c in sa.inspect(s1.engine).get_columns("records")}
    assert {"gate_reason", "classifier_version", "question_source", "run_id", "model", "provider"} <= cols
    rev = s1.revision
    s1.close()
    s2 = open_stores(settings)
    assert s2.revision == rev and s2.records is not None
    s2.close()


def test_json_columns_round_trip_what_json_did_and_read_older_text(tmp_path: Any) -> None:
    import math
    from datetime import datetime, timezone

    from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text

    from scireflect.schema import Gate
    from scireflect.store.db import json_dumps, json_loads, make_engine

    value = {"text": "ü ∫ \\boxed{1}", "n": 2**70, 3: [1.5, None, True]}
    assert json_loads(json_dumps(value)) == {"text": "ü ∫ \\boxed{1}", "n": 2**70, "3": [1.5, None, True]}
    assert json_loads(json_dumps({"x": math.inf})) == {"x": None}  # PostgreSQL's JSON has no Infinity
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    # the json fallback (an integer beyond 64 bits) writes what orjson writes
    assert json_dumps({"x": math.nan, "t": when, "n": 2**70}) == (
        '{"x": null, "t": "2026-01-02T03:04:05+00:00", "n": %d}' % 2**70)
    assert json_loads(json_dumps({"t": when}))["t"] == "2026-01-02T03:04:05+00:00"
    gate = Gate(score=0.5, decision="pass")
    assert json_loads(json_dumps({"g": gate, "s": {"b", "a"}, "big": [2**65, gate]})) == {
        "g": gate.model_dump(mode="json"), "s": ["a", "b"],
        "big": [2**65, gate.model_dump(mode="json")]}
    assert math.isnan(json_loads('{"x": NaN}')["x"])  # as json wrote non-finite floats into SQLite before

    engine = make_engine(f"sqlite:///{tmp_path / 'j.db'}")
    t = Table("j", MetaData(), Column("id", Integer, primary_key=True), Column("v", JSON))
    t.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "v": value}])
        conn.execute(text("""INSERT INTO j (id, v) VALUES (2, '{"x": Infinity}')"""))
    with engine.connect() as conn:
        rows = dict(conn.execute(select(t.c.id, t.c.v)).all())
    assert rows[1]["n"] == 2**70 and rows[1]["text"] == value["text"]
    assert rows[2] == {"x": math.inf}


def test_trace_writer_bulk_path_stores_what_sqlalchemy_stores(tmp_path: Any) -> None:
    """graph/tracewriter.py writes SQLite rows through the driver with the column types' processors."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select, text

    from scireflect.graph.tracewriter import _executemany
    from scireflect.store.db import make_engine, migrate
    from scireflect.store.tables import events

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    when = datetime(2026, 11, 24, 21, 5, 7, 123456, tzinfo=timezone.utc)
    row = {"trace_id": "t", "seq": 1, "node": "verify", "started_at": when, "latency_ms": 3,
           "messages_in": [{"role": "user", "content": "ü \\frac{1}{2}"}], "output": {"ok": True, "x": [1.5, None]},
           "tokens_in": 4, "tokens_out": 5, "model": None, "error": None}
    with engine.begin() as conn:
        conn.execute(insert(events), [row])
        _executemany(conn, insert(events), [{**row, "seq": 2}])
        # a row leaving a column to its default goes through SQLAlchemy, which fills it in
        _executemany(conn, insert(events), [{k: v for k, v in row.items() if k != "latency_ms"} | {"seq": 3}])
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT * FROM events ORDER BY seq")).mappings().all()
        typed = conn.execute(select(events).order_by(events.c.seq)).mappings().all()
    drop = ("id", "seq", "messages_in", "output")
    assert {k: v for k, v in raw[0].items() if k not in drop} == {k: v for k, v in raw[1].items() if k not in drop}
    assert typed[0]["messages_in"] == typed[1]["messages_in"] and typed[0]["output"] == typed[1]["output"]
    assert typed[1]["started_at"].replace(tzinfo=None) == when.replace(tzinfo=None)
    assert typed[2]["latency_ms"] == 0.0 and typed[2]["output"] == typed[0]["output"]
