"""``eval compare`` and ``eval list`` on two stored runs, through the library and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import InputError
from scireflect.evaluation.compare import compare_runs
from scireflect.evaluation.results import EvalStore

runner = CliRunner()


def store_run(store: EvalStore, run_id: str, outcomes: dict[str, tuple[str, bool]], model: str) -> None:
    store.write_meta(run_id, {"id": run_id, "status": "finished", "started_at": f"2026-01-0{len(run_id) % 9}",
                              "benchmark": {"name": "toy", "digest": "d1"}, "backend": {"provider": "hf", "model": model},
                              "prompt": {"style": "cot", "shots": 0}, "counts": {"items": 12, "scored": len(outcomes)},
                              "summary": {"overall": {"n": len(outcomes), "accuracy": 0.5}}})
    for item_id, (subject, ok) in outcomes.items():
        store.append(run_id, {"id": item_id, "subject": subject, "ok": ok})


@pytest.fixture
def two_runs(settings):
    store = EvalStore(settings)
    # physics: base 2/6, adapter 6/6 (4 discordant in the adapter's favour); chemistry: 3/6 each, 2 swapped
    base = {f"p{i}": ("physics", i < 2) for i in range(6)} | {f"c{i}": ("chemistry", i < 3) for i in range(6)}
    tuned = {f"p{i}": ("physics", True) for i in range(6)} | {f"c{i}": ("chemistry", 1 <= i < 4) for i in range(6)}
    tuned["extra"] = ("physics", True)  # scored in one run only: left out of the paired test
    store_run(store, "base", base, "SmolLM2")
    store_run(store, "tuned", tuned, "SmolLM2+lora")
    return store


def test_compare_table_test_and_chart(settings, two_runs, tmp_path):
    out = tmp_path / "chart.png"
    r = compare_runs(settings, "base", "tuned", out=out)
    rows = {row["subject"]: row for row in r["rows"]}
    assert rows["physics"]["acc_a"] == pytest.approx(2 / 6) and rows["physics"]["acc_b"] == 1.0
    assert (rows["physics"]["only_a"], rows["physics"]["only_b"]) == (0, 4)
    assert rows["physics"]["p_value"] == pytest.approx(0.125)
    assert (rows["chemistry"]["only_a"], rows["chemistry"]["only_b"]) == (1, 1)
    assert r["overall"]["n"] == 12 and r["overall"]["diff"] == pytest.approx((9 - 5) / 12)
    assert r["only_in_b"] == 1 and r["same_benchmark"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_cli(settings, two_runs, home):
    res = runner.invoke(app, ["eval", "compare", "base", "tuned", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["chart"].endswith("base__vs__tuned.png") and (home / "eval" / "compare" / "base__vs__tuned.png").exists()
    res = runner.invoke(app, ["eval", "compare", "base", "tuned"])
    assert res.exit_code == 0 and "McNemar" in res.output and "physics" in res.output and "+66.7" in res.output


def test_chart_with_perfect_and_zero_accuracy(settings, tmp_path):
    store = EvalStore(settings)
    store_run(store, "zero", {f"q{i}": ("physics", False) for i in range(10)}, "m")
    store_run(store, "perfect", {f"q{i}": ("physics", True) for i in range(10)}, "m")
    r = compare_runs(settings, "zero", "perfect", out=tmp_path / "c.png")
    assert r["overall"]["p_value"] == pytest.approx(2 / 1024) and (tmp_path / "c.png").exists()


def test_compare_errors(settings, two_runs):
    res = runner.invoke(app, ["eval", "compare", "base", "nope"])
    assert res.exit_code == 1 and "no evaluation run 'nope'" in res.output
    EvalStore(settings).write_meta("other", {"id": "other"})
    EvalStore(settings).append("other", {"id": "zzz", "subject": "x", "ok": True})
    with pytest.raises(InputError, match="no scored items in common"):
        compare_runs(settings, "base", "other", chart=False)


def test_list_runs(settings, two_runs):
    res = runner.invoke(app, ["eval", "list"])
    assert res.exit_code == 0 and "base" in res.output and "tuned" in res.output
    data = json.loads(runner.invoke(app, ["eval", "list", "--json"]).output)
    assert {d["id"] for d in data} == {"base", "tuned"}
    names = json.loads(runner.invoke(app, ["eval", "list", "--benchmarks", "--json"]).output)
    assert {"sciref-mini", "scibench-mini", "mmlu-mini", "math-mini"} <= names.keys()


def test_list_empty(settings):
    res = runner.invoke(app, ["eval", "list"])
    assert res.exit_code == 0 and "no evaluation runs yet" in res.output
