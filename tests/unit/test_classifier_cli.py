"""``scireflect classifier train|eval|score`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("sklearn", reason="scikit-learn is in the 'classifier' extra")

from scireflect.cli import app  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "examples" / "quality_labels.jsonl"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A workspace with a classifier trained through the CLI on a 12-family subset of the labels."""
    root = tmp_path_factory.mktemp("clf")
    lines = LABELS.read_text().splitlines()
    groups = sorted({json.loads(x)["group"] for x in lines})[:12]
    subset = root / "subset.jsonl"
    subset.write_text("\n".join(x for x in lines if json.loads(x)["group"] in groups) + "\n")
    held_out = root / "held_out.jsonl"
    held_out.write_text("\n".join(x for x in lines if json.loads(x)["group"] not in groups) + "\n")
    home = root / "ws"
    res = CliRunner().invoke(app, ["classifier", "train", str(subset), "--folds", "3", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    return {"home": home, "subset": subset, "held_out": held_out, "train_json": root / "train.json",
            "meta": json.loads(res.stdout)}


def test_train_saves_the_classifier_with_its_metrics(workspace: dict[str, Any]) -> None:
    meta = workspace["meta"]
    assert (workspace["home"] / "classifier" / "model.skops").is_file()
    assert meta["metrics"]["validation"]["roc_auc"] > 0.85
    assert meta["saved_to"].endswith("classifier")


def test_eval_reports_metrics_and_writes_the_pr_curve(workspace: dict[str, Any], tmp_path: Path) -> None:
    png = tmp_path / "pr.png"
    res = CliRunner().invoke(app, ["classifier", "eval", str(workspace["held_out"]), "--png", str(png),
                                   "--home", str(workspace["home"]), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    assert {"precision", "recall", "f1", "roc_auc", "threshold"} <= set(m)
    assert m["roc_auc"] > 0.8  # families it never saw
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = CliRunner().invoke(app, ["classifier", "eval", str(workspace["held_out"]), "--home", str(workspace["home"])])
    assert res.exit_code == 0 and "ROC AUC" in res.output
    assert (workspace["home"] / "classifier" / "eval" / "pr_curve.png").is_file()


def test_score_a_file_and_a_stored_trace(workspace: dict[str, Any]) -> None:
    from scireflect.store import open_stores
    from scireflect.training.labels import load_labels

    res = CliRunner().invoke(app, ["classifier", "score", str(workspace["held_out"]), "--top", "2",
                                   "--home", str(workspace["home"]), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == len(workspace["held_out"].read_text().splitlines())
    assert all(r["decision"] in ("pass", "reject") and len(r["top_features"]) <= 2 for r in rows)

    trace = load_labels(workspace["held_out"])[0].trace
    stores = open_stores(url=f"sqlite:///{workspace['home'] / 'scireflect.db'}")
    stores.traces.start(trace)
    stores.traces.finish(trace)
    stores.close()
    res = CliRunner().invoke(app, ["classifier", "score", trace.id, "--home", str(workspace["home"])])
    assert res.exit_code == 0, res.output
    assert "score" in res.output and "threshold" in res.output


def test_score_bad_targets(workspace: dict[str, Any], tmp_path: Path, home: Path) -> None:
    res = CliRunner().invoke(app, ["classifier", "score", "t_nope", "--home", str(workspace["home"])])
    assert res.exit_code == 1 and "neither a file nor a stored trace" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 1}\n[1]\n')
    res = CliRunner().invoke(app, ["classifier", "score", str(bad), "--home", str(workspace["home"])])
    assert res.exit_code == 1 and "bad.jsonl:1" in res.output
    res = CliRunner().invoke(app, ["classifier", "score", str(workspace["held_out"])])  # fresh home: untrained
    assert res.exit_code == 2 and "no classifier is trained" in res.output


def test_eval_cross_validates_without_a_trained_classifier(workspace: dict[str, Any], home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIREFLECT_CLASSIFIER_FOLDS", "3")
    res = CliRunner().invoke(app, ["classifier", "eval", str(workspace["subset"]), "--cv", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["roc_auc"] > 0.85


def _stored_traces(home: Path, n: int = 6) -> list[str]:
    """Verified traces stored before any classifier existed (the gate passed them all), in one run."""
    from scireflect.schema import Gate, Run
    from scireflect.settings import Settings
    from scireflect.store import open_stores
    from tests.unit.test_store_records import make_trace

    stores = open_stores(Settings(home=home))
    try:
        run = Run(id="r_rescore", counts={"accepted_cot": n})
        stores.runs.create(run)
        stores.runs.finish(run)
        ids = []
        for i in range(n):
            t = make_trace(100 + i, run_id=run.id)
            t.gate = Gate(decision="pass", reason="no classifier is trained; the gate passes everything")
            if i % 2:  # a bad solution: the answer alone, no working
                t.attempts[-1].solution = f"\\boxed{{{2 * (100 + i)}}}"
            stores.traces.start(t)
            stores.traces.finish(t)
            stores.records.add_from_trace(t)
            ids.append(t.id)
        return ids
    finally:
        stores.close()


def test_rescore_applies_a_newly_trained_classifier_to_stored_records(workspace: dict[str, Any]) -> None:
    from scireflect.settings import Settings
    from scireflect.store import open_stores

    home = workspace["home"]
    ids = _stored_traces(home)
    dry = CliRunner().invoke(app, ["store", "rescore", "--dry-run", "--run", "r_rescore", "--home", str(home),
                                   "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["records"] == 6
    res = CliRunner().invoke(app, ["store", "rescore", "--run", "r_rescore", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["records"] == 6 and out["classifier_version"] == workspace["meta"]["version"]
    stores = open_stores(Settings(home=home))
    try:
        recs = [stores.records.get(i) for i in ids]
        traces = [stores.traces.get(i, with_events=False) for i in ids]
        assert all(r.gate_score is not None and r.provenance["classifier_version"] == out["classifier_version"]
                   for r in recs)
        for r, t in zip(recs, traces):  # the status everyone sees follows the new decision
            assert t.status == ("gated_out" if r.gate_decision == "reject" else "accepted_cot"), t.reason
            assert f"gate: {r.gate_decision}" in t.reason
        rejected = sum(r.gate_decision == "reject" for r in recs)
        assert rejected >= 3, [r.gate_score for r in recs]  # the answer-only solutions fail the gate
        assert max(r.gate_score for r in recs[1::2]) < min(r.gate_score for r in recs[0::2])
        assert out["changes"].get("pass -> reject", 0) == rejected
        counts = stores.runs.get("r_rescore")["counts"]
        assert counts.get("gated_out", 0) == rejected and counts["accepted_cot"] == 6 - rejected
    finally:
        stores.close()
    human = CliRunner().invoke(app, ["store", "rescore", "--run", "r_rescore", "--home", str(home)])
    assert human.exit_code == 0 and "rescored 6 record(s)" in human.output


def test_rescore_without_a_classifier_is_one_line(home: Path) -> None:
    res = CliRunner().invoke(app, ["store", "rescore"])
    assert res.exit_code == 2 and "no classifier is trained" in res.output
    assert "Traceback" not in res.output
