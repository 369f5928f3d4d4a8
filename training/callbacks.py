"""Trainer callbacks: what a run records (losses, tokens/s, memory) and the progress bar people watch."""

from __future__ import annotations

import logging
import resource
import sys
import time
from typing import Any

from transformers import TrainerCallback

log = logging.getLogger("scireflect.training")


def peak_memory_mb(device: str) -> float:
    """Peak memory of this run: allocated GPU memory on CUDA, the process's peak RSS on CPU."""
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class RunRecorder(TrainerCallback):
    """Collects the loss curve and throughput, and writes every logged line to the run's log file.

    Throughput counts only time inside optimizer steps (not evaluation or checkpointing), so the
    number compares across runs with different eval and save schedules.
    """

    def __init__(self, device: str):
        self.device = device
        self.train_loss: list[tuple[int, float]] = []
        self.eval_loss: list[tuple[int, float]] = []
        self.step_seconds = 0.0
        self.tokens = 0
        self.first_step: int | None = None
        self._t0 = 0.0
        self._tokens0 = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.first_step = state.global_step
        log.info("training from step %d to %d", state.global_step, state.max_steps)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t0 = time.perf_counter()
        self._tokens0 = state.num_input_tokens_seen

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.step_seconds += time.perf_counter() - self._t0
        self.tokens += state.num_input_tokens_seen - self._tokens0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.step_seconds if self.step_seconds > 0 else 0.0

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.train_loss.append((state.global_step, float(logs["loss"])))
        if "eval_loss" in logs:
            self.eval_loss.append((state.global_step, float(logs["eval_loss"])))
        shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in logs.items()}
        log.info("step %d: %s tokens/s=%.1f", state.global_step, shown, self.tokens_per_s)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        log.info("checkpoint saved at step %d", state.global_step)


class ProgressBar(TrainerCallback):
    """A rich progress bar: step, loss, validation loss and tokens/s (on stderr, main process only)."""

    def __init__(self, recorder: RunRecorder):
        self.recorder = recorder
        self.progress: Any = None
        self.task: Any = None
        self.loss = float("nan")
        self.eval_loss: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step, stats="")

    def _stats(self) -> str:
        parts = [f"loss {self.loss:.4f}"]
        if self.eval_loss is not None:
            parts.append(f"val {self.eval_loss:.4f}")
        parts.append(f"{self.recorder.tokens_per_s:,.0f} tok/s")
        return "  ".join(parts)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, stats=self._stats())

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "eval_loss" in logs:
            self.eval_loss = float(logs["eval_loss"])
        if self.progress is not None:
            self.progress.update(self.task, stats=self._stats())

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
