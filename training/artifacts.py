"""What a training run leaves behind, and merging a LoRA adapter into its base.

A run directory holds the adapter (or the full model), the tokenizer, ``base_model.json`` (which
base it was trained on), ``train_config.json``, ``metrics.json``, ``loss_curve.png`` and
``train.log``; ``checkpoints/`` holds what ``--resume`` continues from.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scireflect.errors import ConfigError, missing_dependency

log = logging.getLogger("scireflect.training")

BASE_FILE = "base_model.json"
CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.json"
CURVE_FILE = "loss_curve.png"
LOG_FILE = "train.log"
ADAPTER_CONFIG = "adapter_config.json"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"could not read {path}: {e}") from e


def plot_loss_curve(path: Path, train: list[tuple[int, float]], val: list[tuple[int, float]], title: str) -> bool:
    """Train and validation loss against the step; False (and a log line) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed; no loss curve written (pip install 'scireflect[train]')")
        return False
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    # Markers on every point up to a few dozen: a line needs two points, and short runs log one to three.
    for points, label, color in ((train, "train", "tab:blue"), (val, "validation", "tab:orange")):
        if points:
            ax.plot(*zip(*points), label=label, color=color, marker="o" if len(points) <= 50 else None,
                    markersize=5)
    steps = [s for s, _ in [*train, *val]]
    if steps and min(steps) == max(steps):  # one step: give the axis whole-step room on both sides
        ax.set_xlim(steps[0] - 1, steps[0] + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


class RunLog:
    """Copies the scireflect, transformers, TRL and PEFT loggers into ``RUN/train.log`` for the run."""

    NAMES = ("scireflect", "transformers", "trl", "peft")

    def __init__(self, path: Path):
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.saved: dict[str, int] = {}

    def __enter__(self) -> "RunLog":
        for name in self.NAMES:
            lg = logging.getLogger(name)
            self.saved[name] = lg.level
            lg.addHandler(self.handler)
            if name == "scireflect" or lg.level == logging.NOTSET or lg.level > logging.INFO:
                lg.setLevel(logging.INFO if name == "scireflect" else logging.WARNING)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in self.NAMES:
            lg = logging.getLogger(name)
            lg.removeHandler(self.handler)
            lg.setLevel(self.saved[name])
        self.handler.close()


def is_adapter_dir(path: Path) -> bool:
    return (path / ADAPTER_CONFIG).is_file()


def _adapter_base_path(adapter: Path) -> str:
    """The base model directory an adapter was trained on: our reference file, else PEFT's own field."""
    if (adapter / BASE_FILE).is_file():
        ref = read_json(adapter / BASE_FILE)
        path = ref.get("path")
        if path and Path(path).is_dir():
            return str(path)
        raise ConfigError(f"the base model of {adapter} is no longer at {path} (source: {ref.get('source')}); "
                          f"restore it or convert the GGUF again by training once with the same --base")
    base = read_json(adapter / ADAPTER_CONFIG).get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{adapter}/{ADAPTER_CONFIG} names no base model")
    return str(base)


def load_adapter_model(adapter: Path, dtype: Any = None) -> tuple[Any, Any]:
    """``(PeftModel, tokenizer)`` for a saved adapter on top of its base (offline)."""
    from scireflect.training.base_model import offline

    offline()
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise missing_dependency(getattr(e, "name", None) or "peft", "train") from e
    adapter = Path(adapter).expanduser()
    if not adapter.is_dir():
        raise ConfigError(f"adapter directory not found: {adapter}")
    if not is_adapter_dir(adapter):
        hint = " (a --full run: it is already a standalone model)" if (adapter / "config.json").is_file() else ""
        raise ConfigError(f"{adapter} has no {ADAPTER_CONFIG}; not a LoRA adapter{hint}")
    base_path = _adapter_base_path(adapter)
    try:
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype or torch.float32, local_files_only=True)
        model = PeftModel.from_pretrained(base, str(adapter), local_files_only=True)
    except Exception as e:
        raise ConfigError(f"could not load adapter {adapter} on base {base_path}: {e}") from e
    tok_dir = adapter if (adapter / "tokenizer_config.json").is_file() else Path(base_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
    return model, tokenizer


def merge_adapter(adapter: Path, out: Path, dtype: str = "auto") -> dict[str, Any]:
    """Fold the adapter into its base and save a standalone model (plus tokenizer) to ``out``."""
    import torch

    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output directory {out} is not empty; choose a new --out")
    torch_dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16,
                   "float16": torch.float16}.get(dtype)
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ConfigError(f"unknown dtype {dtype!r}; choose auto, float32, bfloat16 or float16")
    model, tokenizer = load_adapter_model(Path(adapter), dtype=torch_dtype or torch.float32)
    merged = model.merge_and_unload()
    if torch_dtype is not None:
        merged = merged.to(torch_dtype)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"adapter": str(Path(adapter).resolve()), "base": _adapter_base_path(Path(adapter).expanduser()),
            "dtype": str(merged.dtype).replace("torch.", ""), "out": str(out)}
    write_json(out / "merged_from.json", info)
    return info
