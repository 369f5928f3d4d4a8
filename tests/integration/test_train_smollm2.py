"""LoRA on the real embedded SmolLM2-135M-Instruct (GGUF -> plain checkpoint) on CPU, through the CLI.

Slow: one GGUF conversion and 20 optimizer steps of a 135M model (about 1-3 minutes on 2 cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import QA, greedy, write_jsonl  # noqa: E402

pytest.importorskip("trl", reason="the train extra is not installed (pip install 'scireflect[train]')")
pytest.importorskip("gguf", reason="reading the embedded GGUF with transformers needs the gguf package")

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train once with the default base (the embedded GGUF), then merge; shared by the tests."""
    from scireflect.cli import app

    root = tmp_path_factory.mktemp("smollm2")
    home = root / "ws"
    # a short system prompt keeps sequences near 30 tokens (SmolLM2's default one is 20 tokens long)
    data = write_jsonl(root / "sixteen.jsonl", [{"messages": [
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": q},
        {"role": "assistant", "content": a}]} for q, a in QA])
    res = CliRunner().invoke(app, [
        "train", "--home", str(home), "--data", str(data), "--out", str(root / "run"), "--max-steps", "20",
        "--batch-size", "2", "--max-length", "48", "--lr", "1e-3", "--logging-steps", "1", "--val-split", "0.125",
        "--eval-steps", "20", "--save-steps", "20", "--json"])
    assert res.exit_code == 0, res.output
    merged = CliRunner().invoke(app, ["train", "merge", str(root / "run"), "--out", str(root / "merged")])
    assert merged.exit_code == 0, merged.output
    return {"root": root, "home": home, "metrics": json.loads(res.stdout)}


def test_gguf_is_converted_once_into_the_workspace(run: dict) -> None:
    from scireflect.settings import Settings
    from scireflect.training.base_model import SOURCE_FILE, resolve_base

    ref = json.loads((run["root"] / "run" / "base_model.json").read_text())
    assert ref["kind"] == "gguf" and ref["gguf_quantized"] and ref["source"].endswith(".gguf")
    converted = Path(ref["path"])
    assert converted.parent == run["home"] / "models" and (converted / "model.safetensors").is_file()
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config  # otherwise transformers refuses to train or save it
    stamp = (converted / SOURCE_FILE).stat().st_mtime_ns
    again = resolve_base(None, Settings(home=run["home"]))
    assert again.path == str(converted) and (converted / SOURCE_FILE).stat().st_mtime_ns == stamp  # reused


def test_twenty_steps_halve_the_loss(run: dict) -> None:
    m = run["metrics"]
    assert m["global_step"] == 20 and m["device"] == "cpu" and m["data"]["truncated"] == 0
    assert m["final_train_loss"] <= m["first_train_loss"] / 2
    assert m["final_val_loss"] is not None and m["tokens_per_s"] > 0 and m["peak_memory_mb"] > 0


def test_adapter_changes_generations_and_merge_matches(run: dict) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scireflect.training.artifacts import load_adapter_model

    root = run["root"]
    ref = json.loads((root / "run" / "base_model.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(ref["path"])
    tuned, tok = load_adapter_model(root / "run")
    merged = AutoModelForCausalLM.from_pretrained(root / "merged")
    questions = [q for q, _ in QA[:3]]
    tuned_out = [greedy(tuned, tok, q) for q in questions]
    assert tuned_out != [greedy(base, tok, q) for q in questions]
    assert tuned_out == [greedy(merged, AutoTokenizer.from_pretrained(root / "merged"), q) for q in questions]
