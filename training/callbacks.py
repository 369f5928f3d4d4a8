"""Trainer callbacks: the evaluation schedule, what a run records (loss curve, tokens/s, memory) and the
progress with an ETA that a person watches (the status lines before training are ``sft.Narrator``'s)."""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
from typing import Any

from transformers import TrainerCallback

log = logging.getLogger("scireflect.training")

# Validation runs at most MAX_EVALS times per run (plus once at the end), never more often than every
# MIN_EVAL_INTERVAL steps, and never more often than the validation set has batches: a validation pass then
# costs at most the forward passes of the training steps between two of them (about a third of their time).
MAX_EVALS = 10
MIN_EVAL_INTERVAL = 10
PLAIN_EVERY_S = 30.0  # without a terminal, a progress line at least this often even when nothing is logged


def peak_memory_mb(device: str) -> float:
    """Peak memory of this run: allocated GPU memory on CUDA, the process's peak RSS on CPU."""
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


# --- schedule and record ----------------------------------------------------------------------

def eval_interval(max_steps: int, val_rows: int, rows_per_step: int, requested: float | None = None) -> int:
    """Steps between evaluations: ``--eval-steps`` as given (below 1: a share of all steps), else the cap above."""
    if requested is not None:
        return max(1, math.ceil(max_steps * requested) if requested < 1 else int(requested))
    by_count = math.ceil(max_steps / MAX_EVALS)
    by_cost = math.ceil(val_rows / max(1, rows_per_step))
    return max(MIN_EVAL_INTERVAL, by_count, by_cost)


class RunSchedule(TrainerCallback):
    """Evaluates every ``interval`` steps and at the end, and logs the train loss of the last step.

    transformers logs the loss every ``logging_steps`` only, so a 3-step run with the default of 5 would end
    with the loss of step 1 as its last word; evaluation is scheduled here (SFTConfig says ``eval_strategy
    ="no"``) because the cap needs the run's real number of steps, known only once training starts.
    """

    def __init__(self, val_rows: int, requested: float | None = None, narrator: Any = None):
        self.val_rows = val_rows
        self.requested = requested
        self.narrator = narrator
        self.interval: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        plan = "no validation set"
        if self.val_rows:
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
            self.interval = eval_interval(state.max_steps, self.val_rows, per_step, self.requested)
            plan = (f"validation ({self.val_rows} sequences) every {self.interval} steps and at the end"
                    + ("" if self.requested else "; --eval-steps N sets it"))
        log.info("training steps %d to %d; %s", state.global_step + 1, state.max_steps, plan)
        if self.narrator is not None and state.is_world_process_zero:
            self.narrator.say(f"training {state.max_steps - state.global_step} steps; {plan}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        last = state.global_step >= state.max_steps
        if last:
            control.should_log = True
        if self.interval and (last or state.global_step % self.interval == 0):
            control.should_evaluate = True

    def plan(self) -> dict[str, Any]:
        return {"every_steps": self.interval, "at_end": bool(self.val_rows), "requested": self.requested,
                "validation_sequences": self.val_rows}


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


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds) + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# --- progress while training ------------------------------------------------------------------

class Progress(TrainerCallback):
    """Step, loss, validation loss, tokens/s and ETA on stderr (main process only): a rich bar on a
    terminal, else a plain line per logged step (and at least every PLAIN_EVERY_S seconds)."""

    def __init__(self, recorder: RunRecorder, narrator: Any):
        self.recorder = recorder
        self.narrator = narrator
        self.bar: Any = None
        self.task: Any = None
        self.loss: float | None = None
        self.eval_loss: float | None = None
        self.validating = False
        self._started = 0.0
        self._first = 0
        self._last_line = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero or not self.narrator.enabled:
            return
        self._started = self._last_line = time.perf_counter()
        self._first = state.global_step
        if self.narrator.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
                           TimeElapsedColumn(), TimeRemainingColumn(), console=self.narrator.console)
            self.bar.start()
            self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step, stats="")

    def _stats(self) -> str:
        parts = [f"loss {self.loss:.4f}" if self.loss is not None else "loss -"]
        if self.eval_loss is not None:
            parts.append(f"val {self.eval_loss:.4f}")
        parts.append(f"{self.recorder.tokens_per_s:,.0f} tok/s")
        if self.validating:
            parts.append("validating")
        return "  ".join(parts)

    def _eta(self, state: Any) -> float:
        done = state.global_step - self._first
        return (time.perf_counter() - self._started) / done * (state.max_steps - state.global_step) if done else 0.0

    def _line(self, state: Any) -> None:
        self._last_line = time.perf_counter()
        self.narrator.say(f"step {state.global_step}/{state.max_steps}  {self._stats()}  "
                          f"elapsed {_clock(self._last_line - self._started)}  ETA {_clock(self._eta(state))}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.validating = bool(control.should_evaluate)
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step, stats=self._stats())
        elif self._started and not control.should_log and time.perf_counter() - self._last_line >= PLAIN_EVERY_S:
            self._line(state)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "eval_loss" in logs:
            self.eval_loss = float(logs["eval_loss"])
            self.validating = False
        if self.bar is not None:
            self.bar.update(self.task, stats=self._stats())
        elif self._started and ("loss" in logs or "eval_loss" in logs):
            if "loss" in logs and self.validating:
                return  # the line comes with the validation loss of this step
            self._line(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        self._started = 0.0
