"""Supervised fine-tuning on exported records: LoRA by default, full-parameter with ``--full``.

TRL's SFTTrainer does the training; this module decides everything around it: which base, which
data, which precision for the device, where the run lives, and what the run leaves behind
(``training/artifacts.py``). CPU runs in float32; CUDA runs in bf16 autocast with gradient
checkpointing. Under ``accelerate launch`` the same code runs data-parallel (DDP, FSDP, DeepSpeed).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import threading
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, Field, ValidationError

from scireflect.cpu import default_threads, physical_cores
from scireflect.errors import ConfigError, InputError, ScireflectError, missing_dependency
from scireflect.settings import Settings
from scireflect.training import artifacts
from scireflect.training.base_model import (BaseRef, check_full_finetune_memory, load_model, load_tokenizer,
                                            offline, resolve_base)
from scireflect.training.data import Example, LoadedData, load_file, load_store
from scireflect.training.tokens import TokenStats, ensure_chat_template, tokenize_examples

log = logging.getLogger("scireflect.training")

# SciGLM fine-tuned all parameters with a learning rate of 3e-6 for 2 epochs; `--full` starts there.
SCIGLM_FULL_PRESET = {"learning_rate": 3e-6, "epochs": 2.0}
LORA_DEFAULTS = {"learning_rate": 2e-4, "epochs": 3.0}
CHECKPOINTS = "checkpoints"
SLOW_STAGE_S = 1.0  # without a terminal, a step of getting ready that takes longer is announced when it starts
# --report-to choices: the packages transformers' integration looks for (any one will do) and the install hint.
REPORTERS = {"tensorboard": (("tensorboard", "tensorboardX"), "pip install tensorboard"),
             "wandb": (("wandb",), "pip install wandb"),
             "mlflow": (("mlflow",), "pip install mlflow")}
Reporter = Literal["tensorboard", "wandb", "mlflow"]


class TrainOptions(BaseModel):
    """Everything that shapes a training run; stored in the run as ``train_config.json``."""

    data: Path | None = Field(default=None, description="JSONL/JSON file or a saved datasets directory")
    from_store: bool = Field(default=False, description="read records through the record store")
    store_filters: dict[str, Any] = Field(default_factory=dict, description="filters for the store export")
    base: str | None = Field(default=None, description="model dir, cached hub id or GGUF; default: embedded")
    out: Path | None = Field(default=None, description="run directory; default HOME/train/NAME")
    name: str | None = Field(default=None, description="run name under HOME/train")
    full: bool = Field(default=False, description="fine-tune all parameters (SciGLM preset)")
    lora_r: int = Field(default=16, ge=1, le=1024)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = Field(default=None, description="LoRA targets; default all linear layers")
    learning_rate: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    epochs: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_steps: int | None = Field(default=None, ge=1, description="stop after N optimizer steps (None: epochs)")
    batch_size: int = Field(default=4, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    max_length: int = Field(default=1024, ge=8)
    packing: bool = False
    seed: int = 0
    val_split: float = Field(default=0.1, ge=0.0, lt=1.0)
    eval_steps: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                     description="steps between evaluations (<1: ratio); default: RunSchedule's cap")
    logging_steps: float = Field(default=5, gt=0, allow_inf_nan=False)
    save_steps: float = Field(default=100, gt=0, allow_inf_nan=False)
    save_total_limit: int = Field(default=2, ge=1)
    warmup: float = Field(default=0.03, ge=0, description="warmup steps (<1: ratio of all steps)")
    lr_scheduler: str = "cosine"
    weight_decay: float = Field(default=0.0, ge=0)
    resume: bool = False
    report_to: list[Reporter] = Field(default_factory=list, description="transformers report_to; [] is none")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; default: free physical cores")
    skip_bad: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool | None = Field(default=None, description="default: on for CUDA with bf16 support")
    gradient_checkpointing: bool | None = Field(default=None, description="default: on for CUDA")

    model_config = {"extra": "forbid"}

    def resolved(self) -> "TrainOptions":
        """Fill learning rate and epochs from the LoRA defaults or the SciGLM preset."""
        preset = SCIGLM_FULL_PRESET if self.full else LORA_DEFAULTS
        return self.model_copy(update={"learning_rate": self.learning_rate or preset["learning_rate"],
                                       "epochs": self.epochs or preset["epochs"]})


# Option -> the flag a person typed, where the two differ in more than dashes.
_FLAGS = {"learning_rate": "--lr", "target_modules": "--target-module", "store_filters": "--filter"}
_HINTS = {"max_steps": " (leave --max-steps out to train for --epochs)"}


def flag_error(err: dict[str, Any]) -> str:
    """``--max-steps must be at least 1, got 0``: one pydantic error in the words of the command line."""
    name = str(err["loc"][0])
    flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
    ctx = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in (err.get("ctx") or {}).items()}
    bound = {"greater_than": "greater than {gt}", "greater_than_equal": "at least {ge}",
             "less_than": "less than {lt}", "less_than_equal": "at most {le}", "finite_number": "a finite number",
             "literal_error": "one of {expected}"}.get(err["type"])
    got = err.get("input")
    got = f"{got:g}" if isinstance(got, float) else repr(got) if isinstance(got, str) else got
    if bound is None:
        return f"invalid value for {flag}: {err['msg']}"
    return f"{flag} must be {bound.format(**ctx)}, got {got}{_HINTS.get(name, '')}"


def make_options(**kwargs: Any) -> TrainOptions:
    """TrainOptions or a one-line ConfigError naming the flag and the bad value."""
    try:
        return TrainOptions(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as e:
        raise ConfigError(flag_error(e.errors()[0])) from None


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


# --- the run directory ------------------------------------------------------------------------

def run_dir_for(opts: TrainOptions, settings: Settings) -> Path:
    if opts.out is not None:
        return Path(opts.out).expanduser()
    if opts.name is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("with several processes (accelerate launch) pass --out or --name so that every "
                          "process writes to the same run directory")
    name = opts.name or time.strftime("%Y%m%d-%H%M%S")
    return settings.path("train", name, mkdir=False)


def last_checkpoint(run_dir: Path) -> Path | None:
    ckpts = [p for p in (run_dir / CHECKPOINTS).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(ckpts, key=lambda p: int(p.name.split("-")[-1])) if ckpts else None


def _checkpoint_to_resume(opts: TrainOptions, run_dir: Path) -> Path | None:
    ckpt = last_checkpoint(run_dir)
    if opts.resume and ckpt is None:
        raise ConfigError(f"--resume: no checkpoint under {run_dir / CHECKPOINTS}; pass the --out (or --name) "
                          f"of the run to continue")
    if not opts.resume and ckpt is not None:
        raise ConfigError(f"{run_dir} already holds checkpoints of a run; pass --resume to continue it or choose "
                          f"another --out")
    return ckpt


@contextmanager
def _quiet() -> Iterator[None]:
    """No library progress bars (map, load, save) or deprecation chatter: our bar and log say what happens."""
    import datasets
    from transformers.utils import logging as hf_logging

    bars = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            # transformers 5 renamed gradient_checkpointing; TRL's config still sets the old name
            warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
            # PEFT looks up the portable base name (offline: not found) to see if the vocabulary was resized;
            # training never adds tokens, so there is nothing to find.
            warnings.filterwarnings("ignore", message="Could not find a config file in .* vocabulary was not modified")
            yield
    finally:
        if bars[0]:
            datasets.enable_progress_bars()
        if bars[1]:
            hf_logging.enable_progress_bar()


# --- status lines before training -------------------------------------------------------------

@dataclass
class Stage:
    """One step of getting ready; ``done`` sets what the closing line reports (counts, sizes)."""

    doing: str
    result: str = ""
    started: float = field(default_factory=time.perf_counter)

    def done(self, result: str) -> None:
        self.result = result


class Narrator:
    """Says what the run is doing, on stderr: a spinner line on a terminal, plain lines in a log or a pipe.

    Disabled (``--no-progress``, the Python API, ranks other than 0) it prints nothing.
    """

    def __init__(self, console: Any = None, enabled: bool = True):
        if console is None and enabled:
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        self.enabled = enabled and console is not None

    @property
    def live(self) -> bool:
        return self.enabled and bool(self.console.is_terminal)

    def say(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def stage(self, doing: str) -> Iterator[Stage]:
        """``doing ...`` while it runs (a spinner; in plain text only once it has taken SLOW_STAGE_S, so a
        quick step that fails leaves just the error), then ``doing: result, 1.2 s``."""
        st = Stage(doing)
        if not self.enabled:
            yield st
            return
        if self.live:
            with self.console.status(doing + " ...", spinner="dots"):
                yield st
        else:
            timer = threading.Timer(SLOW_STAGE_S, self.say, args=(doing + " ...",))
            timer.daemon = True
            timer.start()
            try:
                yield st
            finally:
                timer.cancel()
        took = f"{time.perf_counter() - st.started:.1f} s"
        self.say(f"{doing}: {st.result}, {took}" if st.result else f"{doing}: {took}")


# --- device and precision ---------------------------------------------------------------------

def pick_device(opts: TrainOptions) -> str:
    import torch

    if opts.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA GPU is visible to torch")
    if opts.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return opts.device


def precision(opts: TrainOptions, device: str) -> dict[str, Any]:
    """Weights dtype and Trainer flags: fp32 on CPU; bf16 autocast and checkpointing on CUDA.

    Full fine-tuning keeps fp32 master weights even on GPU: an update of 3e-6 x gradient vanishes
    when added to a bf16 weight (8 bits of mantissa), so the preset would silently train nothing.
    """
    import torch

    if device == "cpu":
        if opts.bf16:
            raise ConfigError("--bf16 is for CUDA; CPU training runs in float32")
        return {"dtype": torch.float32, "dtype_name": "float32", "bf16": False,
                "gradient_checkpointing": bool(opts.gradient_checkpointing)}
    bf16 = torch.cuda.is_bf16_supported() if opts.bf16 is None else opts.bf16
    weights = torch.bfloat16 if (bf16 and not opts.full) else torch.float32
    return {"dtype": weights, "dtype_name": str(weights).replace("torch.", ""), "bf16": bf16,
            "gradient_checkpointing": True if opts.gradient_checkpointing is None else opts.gradient_checkpointing}


def apply_threads(opts: TrainOptions, settings: Settings) -> dict[str, Any]:
    """Set torch's intra-op and inter-op threads: ``--threads`` > settings ``n_threads`` > default_threads()."""
    import torch

    cores = physical_cores()
    if opts.threads:
        chosen, source, why = opts.threads, "--threads", "--threads"
    elif settings.n_threads:
        chosen, source, why = settings.n_threads, "settings", "n_threads in the settings"
    else:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        chosen, source = default_threads(cores, load), "default"
        why = f"default: {cores} physical core(s) less the load of {load:.1f}"
    torch.set_num_threads(chosen)
    try:
        torch.set_num_interop_threads(chosen)
    except RuntimeError:  # settable once per process, before any inter-op work; eager training barely uses it
        pass
    info = {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
            "source": source, "why": why, "physical_cores": cores}
    log.info("threads: %s", info)
    return info


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_reporters(report_to: list[str]) -> None:
    """Each ``--report-to`` integration is installed, else one line with the install command (checked before
    torch is imported, so a typo costs no wait)."""
    for name in report_to:
        modules, hint = REPORTERS[name]
        if not any(installed(m) for m in modules):
            raise ConfigError(f"--report-to {name} needs {name}, which is not installed; install it with: {hint}")


# --- data -------------------------------------------------------------------------------------

def check_source(opts: TrainOptions) -> None:
    if opts.from_store and opts.data is not None:
        raise ConfigError("pass either --data FILE or --from-store, not both")
    if not opts.from_store and opts.data is None:
        raise ConfigError("no training data: pass --data FILE (JSONL, JSON or a saved dataset) or --from-store")


def load_examples(opts: TrainOptions, settings: Settings) -> LoadedData:
    check_source(opts)
    if opts.from_store:
        return load_store(settings, opts.store_filters, opts.skip_bad, opts.val_split, opts.seed)
    return load_file(opts.data, opts.skip_bad)


def split_validation(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded random hold-out; at least one example each side when there are two or more."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    val_idx = set(order[:n_val])
    return ([e for i, e in enumerate(examples) if i not in val_idx],
            [e for i, e in enumerate(examples) if i in val_idx])


def _prepare_rows(opts: TrainOptions, loaded: LoadedData, tokenizer: Any) -> tuple[list, list, TokenStats]:
    # A split that comes with the data (a dataset's validation split, the store's split by question) wins.
    train_ex, val_ex = (loaded.train, loaded.validation) if loaded.validation is not None else \
        split_validation(loaded.train, opts.val_split, opts.seed)
    stats = TokenStats()
    train_rows, stats = tokenize_examples(train_ex, tokenizer, opts.max_length, stats)
    val_rows, stats = tokenize_examples(val_ex or [], tokenizer, opts.max_length, stats)
    if stats.truncated:
        log.warning("%d of %d sequences were longer than max_length=%d tokens and were truncated (first: %s); "
                    "%d kept no answer tokens and were dropped", stats.truncated, stats.examples, opts.max_length,
                    ", ".join(stats.truncated_where[:3]), stats.dropped)
    if not train_rows:
        raise ConfigError(f"no training sequence keeps an answer token within max_length={opts.max_length}; "
                          f"raise --max-length")
    log.info("data: %d train and %d validation sequences, %d tokens (%d in the loss), longest %d",
             len(train_rows), len(val_rows), stats.tokens, stats.answer_tokens, stats.longest)
    return train_rows, val_rows, stats


# --- trainer ----------------------------------------------------------------------------------

def sft_config(opts: TrainOptions, run_dir: Path, prec: dict[str, Any], device: str) -> Any:
    from trl import SFTConfig

    if "tensorboard" in opts.report_to:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    try:
        return _sft_config(SFTConfig, opts, run_dir, prec, device)
    except ValueError as e:  # an option combination TrainingArguments rejects (e.g. an unknown scheduler)
        raise ConfigError(f"invalid training configuration: {e}") from e


def _sft_config(cls: Any, opts: TrainOptions, run_dir: Path, prec: dict[str, Any], device: str) -> Any:
    return cls(
        output_dir=str(run_dir / CHECKPOINTS), run_name=run_dir.name, seed=opts.seed, data_seed=opts.seed,
        learning_rate=opts.learning_rate, num_train_epochs=opts.epochs, max_steps=opts.max_steps or -1,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=opts.batch_size,
        gradient_accumulation_steps=opts.grad_accum, lr_scheduler_type=opts.lr_scheduler,
        warmup_steps=opts.warmup, weight_decay=opts.weight_decay,
        max_length=opts.max_length, packing=opts.packing, eval_packing=opts.packing,
        bf16=prec["bf16"], fp16=False, use_cpu=device == "cpu", gradient_checkpointing=prec["gradient_checkpointing"],
        logging_steps=opts.logging_steps, logging_first_step=True,
        eval_strategy="no",  # callbacks.RunSchedule evaluates: its cap needs the run's real number of steps
        save_strategy="steps", save_steps=opts.save_steps, save_total_limit=opts.save_total_limit,
        report_to=list(opts.report_to) or "none",
        include_num_input_tokens_seen="all" if opts.packing else "non_padding",
        disable_tqdm=True, dataloader_num_workers=0, log_level="warning",
    )


def build_trainer(opts: TrainOptions, model: Any, tokenizer: Any, args: Any, train_rows: list, val_rows: list,
                  callbacks: list) -> Any:
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    peft_config = None
    if not opts.full:
        from peft import LoraConfig

        peft_config = LoraConfig(r=opts.lora_r, lora_alpha=opts.lora_alpha, lora_dropout=opts.lora_dropout,
                                 target_modules=opts.target_modules or "all-linear", task_type="CAUSAL_LM")
    try:
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                             eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
                             processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
    except ValueError as e:  # e.g. LoRA target modules that the model does not have
        raise ConfigError(f"could not set up training: {e}") from e
    trainer.remove_callback(PrinterCallback)  # our recorder writes the log lines
    return trainer


def _import_stack() -> None:
    offline()
    for pkg in ("torch", "transformers", "trl", "peft", "datasets", "accelerate"):
        try:
            __import__(pkg)
        except ImportError as e:
            raise missing_dependency(pkg, "train") from e


def train(opts: TrainOptions, settings: Settings, progress: bool = False,
          callbacks: list[Any] | None = None) -> TrainResult:
    """Run one training job end to end and return where it lives and its metrics.

    ``progress`` tells a person on stderr what the run is doing (status lines, then per-step progress);
    ``callbacks`` are extra transformers ``TrainerCallback``s (tests use one to watch the weights).
    """
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under accelerate launch only rank 0 talks and logs
    say = Narrator(enabled=progress and main_rank)
    # what can be wrong with the options is said before the wait for the imports
    opts = opts.resolved()
    check_source(opts)
    check_reporters(opts.report_to)
    run_dir = run_dir_for(opts, settings)
    resume_from = _checkpoint_to_resume(opts, run_dir)
    if opts.data is not None and not Path(opts.data).expanduser().exists():
        raise InputError("training data not found", path=str(opts.data))
    run_dir.mkdir(parents=True, exist_ok=True)
    with artifacts.RunLog(run_dir / artifacts.LOG_FILE) if main_rank else nullcontext():
        log.info("run %s: %s", run_dir, opts.model_dump_json(exclude_none=True))
        loaded = _load_data(opts, settings, say)  # before the imports: bad data fails in a second, not in 30
        with say.stage("loading torch, transformers and TRL"):
            _import_stack()
        with _quiet():
            return _train(opts, settings, run_dir, resume_from, loaded, say, callbacks or [])


def _base_stage(opts: TrainOptions, settings: Settings) -> str:
    """What resolving ``--base`` is about to do; converting a GGUF is the long silence of a first run."""
    from scireflect.training import base_model as bm

    spec = opts.base
    try:
        if spec is None or spec.lower() in bm.EMBEDDED:
            from scireflect.llm import embedded_gguf

            gguf: Path | None = embedded_gguf()
        else:
            gguf = Path(spec).expanduser() if spec.endswith(".gguf") and Path(spec).expanduser().is_file() else None
        # the same freshness test convert_gguf makes (size and mtime of the GGUF)
        if gguf is not None and not bm._is_current(bm.converted_dir(gguf, settings), bm._source_stamp(gguf)):
            return f"converting {gguf.name} into a trainable checkpoint (once; about 30-50 s on 2 cores)"
    except (ScireflectError, OSError):
        pass  # resolve_base says what is wrong, in one line
    return f"loading the tokenizer of {spec or 'the embedded SmolLM2-135M-Instruct'}"


def _load_data(opts: TrainOptions, settings: Settings, say: Any) -> LoadedData:
    decontam = opts.store_filters.get("decontaminate", True)
    source = str(opts.data) if not opts.from_store else \
        "the record store (deduplicating" + (", decontaminating)" if decontam else ")")
    with say.stage(f"reading {source}") as st:
        loaded = load_examples(opts, settings)
        val = f" + {len(loaded.validation)} validation" if loaded.validation is not None else ""
        bad = f", {len(loaded.skipped)} bad record(s) skipped (see train.log)" if loaded.skipped else ""
        st.done(f"{len(loaded.train)}{val} examples{bad}")
    for line in loaded.skipped:
        log.warning("skipped bad record: %s", line)
    if loaded.excluded:
        ex = loaded.excluded
        decon = f"{ex.get('decontaminated', 0)} matching a benchmark item" if decontam else "decontamination off"
        say.say(f"left out {ex.get('duplicates', 0)} duplicate(s) and {decon} (each listed in train.log, counted "
                f"in metrics.json)")
    return loaded


def _load_base(opts: TrainOptions, settings: Settings, loaded: LoadedData,
               say: Any) -> tuple[BaseRef, Any, list, list, TokenStats]:
    with say.stage(_base_stage(opts, settings)) as st:
        ref = resolve_base(opts.base, settings)
        tokenizer = load_tokenizer(ref)
        ensure_chat_template(tokenizer)
        st.done(f"base {ref.name} ({ref.kind}) at {ref.path}")
    with say.stage(f"tokenizing {len(loaded.train) + len(loaded.validation or [])} conversations") as st:
        train_rows, val_rows, stats = _prepare_rows(opts, loaded, tokenizer)
        st.done(f"{len(train_rows)} train and {len(val_rows)} validation sequences, {stats.tokens:,} tokens "
                f"({stats.answer_tokens:,} in the loss), longest {stats.longest}, {stats.truncated} truncated")
    return ref, tokenizer, train_rows, val_rows, stats


def _train(opts: TrainOptions, settings: Settings, run_dir: Path, resume_from: Path | None, loaded: LoadedData,
           say: Any, extra: list[Any]) -> TrainResult:
    from transformers import set_seed

    from scireflect.training.callbacks import Progress, RunRecorder, RunSchedule

    device = pick_device(opts)
    prec = precision(opts, device)
    threads = apply_threads(opts, settings)
    say.say(f"{device}, {prec['dtype_name']}, {threads['threads']} torch thread(s) ({threads['why']}"
            + ("; --threads N sets it)" if threads["source"] != "--threads" else ")"))
    ref, tokenizer, train_rows, val_rows, stats = _load_base(opts, settings, loaded, say)
    memory = check_full_finetune_memory(ref, device, prec["dtype_name"]) if opts.full else None
    set_seed(opts.seed)
    with say.stage(f"loading the weights of {ref.name}") as st:
        model = load_model(ref, prec["dtype"])
        st.done(f"{sum(p.numel() for p in model.parameters()) / 1e6:,.1f}M parameters")
    recorder, schedule = RunRecorder(device), RunSchedule(len(val_rows), opts.eval_steps, say)
    callbacks = [schedule, recorder, *extra, Progress(recorder, say)]  # Progress reads what RunSchedule decided
    args = sft_config(opts, run_dir, prec, device)
    what = "all parameters" if opts.full else f"LoRA r={opts.lora_r} on " + \
        (", ".join(opts.target_modules) if opts.target_modules else "all linear layers")
    with say.stage(f"setting up TRL's SFTTrainer ({what})"):
        trainer = build_trainer(opts, model, tokenizer, args, train_rows, val_rows, callbacks)
    started = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    wall = time.perf_counter() - started
    if val_rows and (not recorder.eval_loss or recorder.eval_loss[-1][0] != trainer.state.global_step):
        with say.stage("validating"):
            trainer.evaluate()  # no step ran in this call (a resumed run that had finished); the recorder keeps it
    with say.stage(f"saving to {run_dir}"):
        metrics = _metrics(opts, trainer, out, recorder, stats, loaded, device, wall, resume_from, memory)
        metrics.update(threads=threads, evaluation=schedule.plan(),
                       # The saved files name the base portably; where it was loaded from here is run metadata.
                       base_model={"name": ref.portable_name, "local_path": ref.path, "source": ref.source,
                                   "kind": ref.kind})
        # Every rank takes part in saving (ZeRO-3 and FSDP gather the sharded weights); rank 0 writes the rest.
        trainer.save_model(str(run_dir))  # LoRA: adapter_config.json + adapter_model.safetensors; --full: the model
        if trainer.is_world_process_zero():
            _portable_adapter_base(run_dir, ref)
            _save(opts, tokenizer, run_dir, ref, args, prec, metrics, recorder, loaded)
    log.info("done: %s", {k: metrics[k] for k in ("final_train_loss", "final_val_loss", "tokens_per_s")})
    return TrainResult(run_dir, metrics)


def _metrics(opts: TrainOptions, trainer: Any, out: Any, recorder: Any, stats: TokenStats, loaded: LoadedData,
             device: str, wall: float, resume_from: Path | None, memory: dict[str, Any] | None) -> dict[str, Any]:
    from scireflect.training.callbacks import peak_memory_mb

    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    first, last = (recorder.train_loss[0], recorder.train_loss[-1]) if recorder.train_loss else ((None, None),) * 2
    val_last = recorder.eval_loss[-1] if recorder.eval_loss else (None, None)
    return {
        "mode": "full" if opts.full else "lora",
        "device": device,
        "global_step": trainer.state.global_step,
        "resumed_from_step": int(resume_from.name.split("-")[-1]) if resume_from else None,
        "epochs_done": trainer.state.epoch,
        # Each logged train loss is the mean over the steps since the previous log; the last step is always logged.
        "first_train_loss": first[1], "first_train_loss_step": first[0],
        "final_train_loss": last[1], "final_train_loss_step": last[0],
        "mean_train_loss": out.training_loss,
        "final_val_loss": val_last[1], "final_val_loss_step": val_last[0],
        "train_loss_curve": recorder.train_loss,
        "val_loss_curve": recorder.eval_loss,
        "tokens_trained": recorder.tokens,
        "train_seconds": round(recorder.step_seconds, 3),
        "wall_seconds": round(wall, 3),
        "tokens_per_s": round(recorder.tokens_per_s, 2),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "data": {"source": loaded.source, "skipped_bad_records": len(loaded.skipped), **stats.to_json(),
                 "excluded": loaded.excluded},
        "full_finetune_memory": memory,
    }


def _portable_adapter_base(run_dir: Path, ref: BaseRef) -> None:
    """Make sure the adapter names its base portably (``load_model`` names the model; a PEFT that reads the
    name elsewhere, or a run resumed from an older checkpoint, would still write the local path)."""
    path = run_dir / artifacts.ADAPTER_CONFIG
    if not path.is_file():
        return
    config = artifacts.read_json(path)
    if config.get("base_model_name_or_path") != ref.portable_name:
        config["base_model_name_or_path"] = ref.portable_name
        artifacts.write_json(path, config)


def _save(opts: TrainOptions, tokenizer: Any, run_dir: Path, ref: BaseRef, args: Any,
          prec: dict[str, Any], metrics: dict[str, Any], recorder: Any, loaded: LoadedData) -> None:
    tokenizer.save_pretrained(str(run_dir))
    artifacts.write_json(run_dir / artifacts.BASE_FILE, ref.to_json())
    artifacts.write_json(run_dir / artifacts.CONFIG_FILE, {
        "options": opts.model_dump(mode="json"),
        "precision": {k: v for k, v in prec.items() if k != "dtype"},
        "threads": metrics["threads"],
        "evaluation": metrics["evaluation"],
        "sft_config": args.to_dict(),
        "data_source": loaded.source,
    })
    artifacts.write_json(run_dir / artifacts.METRICS_FILE, metrics)
    artifacts.plot_loss_curve(run_dir / artifacts.CURVE_FILE, recorder.train_loss, recorder.eval_loss,
                              f"{metrics['mode']} on {ref.name}")
