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
