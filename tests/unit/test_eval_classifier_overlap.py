"""``classifier eval`` warns when the evaluated file is the classifier's training data, or repeats much
of it: the metrics then measure memorization (it reported AUC 1.000 on its own training file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("sklearn", reason="scikit-learn is in the 'classifier' extra")

from scireflect.cli import app  # noqa: E402
from scireflect.training.classifier import example_hashes, labels_digest, training_overlap  # noqa: E402
from scireflect.training.labels import load_labels  # noqa: E402

LABELS = Path(__file__).resolve().parents[2] / "examples" / "quality_labels.jsonl"


def split(root: Path, families: int) -> tuple[Path, Path]:
    lines = LABELS.read_text().splitlines()
    groups = sorted({json.loads(x)["group"] for x in lines})[:families]
    train, rest = root / "train.jsonl", root / "rest.jsonl"
    train.write_text("\n".join(x for x in lines if json.loads(x)["group"] in groups) + "\n")
    rest.write_text("\n".join(x for x in lines if json.loads(x)["group"] not in groups) + "\n")
    return train, rest


def test_overlap_from_stored_hashes_digest_or_path(tmp_path):
    train, rest = split(tmp_path, 6)
    ex_train, ex_rest = load_labels(train), load_labels(rest)
    meta = {"training_hashes": sorted(set(example_hashes(ex_train)))}
    assert training_overlap(meta, ex_train)["share"] == 1.0
    assert training_overlap(meta, ex_rest)["shared"] == 0
    mixed = ex_rest[:10] + ex_train[:10]
    assert training_overlap(meta, mixed) == {"shared": 10, "n": 20, "share": 0.5, "by": "example hashes"}
    # A classifier saved before per-example hashes: the labels digest, then the training file's path.
    old = {"labels_sha256": labels_digest(ex_train), "source": str(train)}
    assert training_overlap(old, ex_train, str(train))["by"] == "labels digest"
    train.write_text(train.read_text() + rest.read_text().splitlines()[0] + "\n")  # the file changed since
    assert training_overlap(old, load_labels(train), str(train))["by"] == "training file path"
    assert training_overlap(old, ex_rest, str(rest)) is None


def test_cli_warns_on_the_training_file_only(tmp_path):
    train, rest = split(tmp_path, 8)
    home = tmp_path / "ws"
    res = CliRunner().invoke(app, ["classifier", "train", str(train), "--folds", "3", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    assert "training_hashes" not in json.loads(res.stdout)  # stored in meta.json, not printed
    res = CliRunner().invoke(app, ["classifier", "eval", str(train), "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["training_overlap"]["share"] == 1.0
    assert "warning:" in res.stderr and "were in the classifier's training data" in res.stderr
    res = CliRunner().invoke(app, ["classifier", "eval", str(rest), "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "warning:" not in res.stderr and "ROC AUC" in res.stdout
