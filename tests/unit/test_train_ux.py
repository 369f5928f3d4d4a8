"""What a person reads from ``scireflect train`` (CliRunner, so no TTY): status lines before step 1, progress
with an ETA, the validation cadence, the final numbers and the plot, threads, --report-to, bad values."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import sixteen, tiny_model_dir  # noqa: E402

from scireflect.cli import app  # noqa: E402
from scireflect.cli.train_cmd import summary  # noqa: E402

runner = CliRunner()


def _run(*args: str) -> Any:
    return runner.invoke(app, ["train", *args])


@pytest.fixture(scope="module")
def torch_threads() -> Any:
    """Puts torch's thread count back after the module (runs here set it)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def three_steps(tmp_path_factory: pytest.TempPathFactory, torch_threads: Any) -> dict[str, Any]:
    """One 3-step CLI run with --json and --threads 1 (logging every 5 steps, the default), shared below."""
    pytest.importorskip("trl", reason="the train extra is not installed")
    root = tmp_path_factory.mktemp("ux")
    res = _run("--home", str(root / "ws"), "--data", str(sixteen(root / "d.jsonl", "chatml")),
               "--base", str(tiny_model_dir()), "--out", str(root / "run"), "--max-steps", "3", "--max-length", "64",
               "--lr", "1e-2", "--val-split", "0.25", "--threads", "1", "--json")
    assert res.exit_code == 0, res.output
    return {"res": res, "metrics": json.loads(res.stdout), "run": root / "run", "torch": torch_threads}


def test_status_lines_before_step_one_and_progress_with_eta(three_steps: dict[str, Any]) -> None:
    err = three_steps["res"].stderr
    for expected in ("reading ", "d.jsonl: 16 examples, ", "loading torch, transformers and TRL: ",
                     "cpu, float32, 1 torch thread(s) (--threads)\n", "loading the tokenizer of ",
                     "tokenizing 16 conversations: 12 train and 4 validation sequences, 512 tokens (144 in the loss)",
                     "loading the weights of ", "setting up TRL's SFTTrainer (LoRA r=16 on all linear layers): ",
                     "training 3 steps; validation (4 sequences) every 10 steps and at the end; --eval-steps N sets it",
                     "step 1/3  loss ", "saving to "):
        assert expected in err, (expected, err)
    assert err.index("reading ") < err.index("loading torch")  # bad data fails before the long imports
    last = [line for line in err.splitlines() if line.startswith("step 3/3")]
    assert len(last) == 1 and "val " in last[0] and "tok/s" in last[0] and "ETA 0:00:00" in last[0], err
    assert "\x1b[" not in err and "\r" not in err  # plain lines when stderr is not a terminal


def test_json_stdout_stays_clean(three_steps: dict[str, Any]) -> None:
    m = three_steps["metrics"]
    assert m["global_step"] == 3 and three_steps["res"].stdout.lstrip().startswith("{")


def test_no_progress_is_silent(tmp_path: Path, torch_threads: Any) -> None:
    pytest.importorskip("trl")
    res = _run("--home", str(tmp_path / "ws"), "--data", str(sixteen(tmp_path / "d.jsonl")), "--base",
               str(tiny_model_dir()), "--out", str(tmp_path / "r"), "--max-steps", "1", "--max-length", "64",
               "--val-split", "0", "--no-progress", "--threads", "1")
    assert res.exit_code == 0, res.output
    assert res.stderr == "" and "lora run in" in res.stdout


def test_three_steps_validate_once_and_report_the_last_loss(three_steps: dict[str, Any]) -> None:
    m = three_steps["metrics"]
    saved = json.loads((three_steps["run"] / "metrics.json").read_text())
    assert saved["val_loss_curve"] == [[3, m["final_val_loss"]]]  # not after every step, not twice at the end
    assert m["evaluation"]["every_steps"] == 10 and m["evaluation"]["validation_sequences"] == 4
    curve = saved["train_loss_curve"]
    assert [s for s, _ in curve] == [1, 3]  # step 1 (logging_first_step) and the last step, always
    assert m["final_train_loss"] == curve[-1][1] != m["first_train_loss"] and m["final_train_loss_step"] == 3
    text = "\n".join(summary(three_steps["run"], m, 64))
    assert f"train loss {m['first_train_loss']:.4f} at step 1 -> {m['final_train_loss']:.4f} at step 3 (last " \
           f"logged)" in text
    assert f"val loss {m['final_val_loss']:.4f} at step 3" in text and "3 steps in " in text


def _blue_pixels(png: Path) -> int:
    """Pixels of matplotlib's tab:blue (#1f77b4), the train line and markers."""
    from matplotlib.image import imread

    img = imread(str(png))[..., :3]
    close = (abs(img[..., 0] - 0x1F / 255) < 0.03) & (abs(img[..., 1] - 0x77 / 255) < 0.03) & \
        (abs(img[..., 2] - 0xB4 / 255) < 0.03)
    return int(close.sum())


def test_loss_plot_draws_short_runs(three_steps: dict[str, Any], tmp_path: Path) -> None:
    from scireflect.training.artifacts import plot_loss_curve

    legend_only = tmp_path / "none.png"
    plot_loss_curve(legend_only, [], [(1, 2.0)], "t")
    one = tmp_path / "one.png"
    plot_loss_curve(one, [(1, 2.5)], [(1, 2.0)], "t")
    # the legend swatch alone is a few hundred pixels; a marker adds about 70 more
    assert _blue_pixels(one) > _blue_pixels(legend_only) + 40
    assert _blue_pixels(three_steps["run"] / "loss_curve.png") > _blue_pixels(legend_only) + 100


def test_eval_interval_cap() -> None:
    from scireflect.training.callbacks import eval_interval

    assert eval_interval(3, 4, 4) == 10  # short run: only at the end
    assert eval_interval(20, 4, 4) == 10
    assert eval_interval(1000, 40, 4) == 100  # at most 10 evaluations
    assert eval_interval(200, 2000, 4) == 500  # a big validation set is never validated more than trained on
    assert eval_interval(20, 4, 4, requested=1) == 1 and eval_interval(20, 4, 4, requested=0.25) == 5


def test_twenty_steps_validate_at_ten_and_twenty(tmp_path: Path, torch_threads: Any) -> None:
    pytest.importorskip("trl")
    from scireflect.settings import Settings
    from scireflect.training.sft import make_options, train

    opts = make_options(data=sixteen(tmp_path / "d.jsonl"), base=str(tiny_model_dir()), out=tmp_path / "r",
                        max_steps=20, val_split=0.125, max_length=64, threads=1, save_steps=100)
    m = train(opts, Settings(home=tmp_path / "ws")).metrics
    assert [s for s, _ in m["val_loss_curve"]] == [10, 20]
    assert [s for s, _ in m["train_loss_curve"]] == [1, 5, 10, 15, 20]


def test_threads_are_applied(three_steps: dict[str, Any]) -> None:
    m = three_steps["metrics"]
    assert m["threads"]["threads"] == 1 and m["threads"]["source"] == "--threads"
    assert three_steps["torch"].get_num_threads() == 1
    config = json.loads((three_steps["run"] / "train_config.json").read_text())
    assert config["threads"]["threads"] == 1 and config["options"]["threads"] == 1


def test_default_threads(monkeypatch: pytest.MonkeyPatch, torch_threads: Any) -> None:
    from scireflect.settings import Settings
    from scireflect.training import sft

    assert sft.default_threads(cores=2, load=5.0) == 1  # a busy 2-core machine: one thread
    assert sft.default_threads(cores=8, load=0.2) == 8 and sft.default_threads(cores=4, load=1.6) == 2
    monkeypatch.setattr(sft, "physical_cores", lambda: 3)
    monkeypatch.setattr(sft.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    info = sft.apply_threads(sft.make_options(), Settings())
    assert info["threads"] == 3 == torch_threads.get_num_threads() and info["source"] == "default"
    info = sft.apply_threads(sft.make_options(), Settings(n_threads=2))
    assert info["threads"] == 2 and info["source"] == "settings"
    assert sft.apply_threads(sft.make_options(threads=1), Settings(n_threads=2))["threads"] == 1


def test_report_to_passes_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from scireflect.cli.train_cmd import _report_to
    from scireflect.training import sft

    assert _report_to(["wandb,mlflow"], True) == ["wandb", "mlflow", "tensorboard"]
    assert _report_to(["tensorboard", "none"], False) == [] and _report_to(None, False) == []
    prec = {"bf16": False, "gradient_checkpointing": False}
    assert sft.sft_config(sft.make_options(), tmp_path, prec, "cpu").report_to == []  # default none
    monkeypatch.setattr(sft, "installed", lambda module: module == "wandb")
    opts = sft.make_options(report_to=["wandb"])
    sft.check_reporters(opts.report_to)
    args = sft.sft_config(opts, tmp_path / "run-a", prec, "cpu")
    assert args.report_to == ["wandb"] and args.run_name == "run-a"


@pytest.mark.parametrize("name", ["wandb", "mlflow", "tensorboard"])
def test_report_to_missing_package_is_one_line(name: str, home: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from scireflect.training import sft

    monkeypatch.setattr(sft, "installed", lambda module: False)
    data = sixteen(tmp_path / "d.jsonl")
    res = _run("--data", str(data), "--report-to", name, "--out", str(tmp_path / "r"))
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: --report-to {name} needs {name}, which is not installed; install it " \
                                 f"with: pip install {name}"
    if name == "tensorboard":
        assert _run("--data", str(data), "--tensorboard", "--out", str(tmp_path / "r")).stderr == res.stderr


@pytest.mark.parametrize("args,message", [
    (["--max-steps", "0"], "error: --max-steps must be at least 1, got 0 (leave --max-steps out to train for "
                           "--epochs)"),
    (["--epochs", "-1"], "error: --epochs must be greater than 0, got -1"),
    (["--lr", "0"], "error: --lr must be greater than 0, got 0"),
    (["--batch-size", "0"], "error: --batch-size must be at least 1, got 0"),
    (["--threads", "0"], "error: --threads must be at least 1, got 0"),
    (["--epochs", "nan"], "error: --epochs must be a finite number, got nan"),
    (["--report-to", "comet"], "error: --report-to takes tensorboard, wandb, mlflow or none, got 'comet'"),
])
def test_nonsense_values_are_one_line(args: list[str], message: str, home: Path, tmp_path: Path) -> None:
    res = _run("--data", "x.jsonl", "--out", str(tmp_path / "r"), *args)
    assert res.exit_code == 2 and res.stderr.strip() == message


def test_excluded_records_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from scireflect.settings import Settings
    from scireflect.training import sft
    from scireflect.training.data import Example, LoadedData

    ex = Example(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], where="x:1")
    loaded = LoadedData([ex], None, [], "store", {"duplicates": 2, "decontaminated": 1, "flags": [{"item_id": "i"}]})
    monkeypatch.setattr(sft, "load_examples", lambda opts, settings: loaded)
    out = io.StringIO()
    sft._load_data(sft.make_options(from_store=True), Settings(), sft.Narrator(Console(file=out, width=200)))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("reading the record store (deduplicating, decontaminating): 1 examples, ")
    assert lines[-1] == "left out 2 duplicate(s) and 1 matching a benchmark item (each listed in train.log, " \
                        "counted in metrics.json)"


def test_slow_stages_are_announced_when_they_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from rich.console import Console

    from scireflect.training import sft

    monkeypatch.setattr(sft, "SLOW_STAGE_S", 0.05)
    out = io.StringIO()
    say = sft.Narrator(Console(file=out, width=200))
    with say.stage("converting x.gguf") as st:
        time.sleep(0.5)
        st.done("base x (gguf)")
    with say.stage("reading d.jsonl") as st:
        st.done("16 examples")
    lines = out.getvalue().splitlines()
    assert lines[0] == "converting x.gguf ..." and lines[1].startswith("converting x.gguf: base x (gguf), 0.")
    assert lines[2].startswith("reading d.jsonl: 16 examples, 0.0 s") and len(lines) == 3
    with pytest.raises(ValueError), say.stage("failing fast"):
        raise ValueError("bad")
    assert len(out.getvalue().splitlines()) == 3  # a quick step that fails leaves only its error
