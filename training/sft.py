"""Supervised fine-tuning on exported records: LoRA by default, full-parameter with ``--full``.

TRL's SFTTrainer does the training; this module decides everything around it: which base, which
data, which precision for the device, where the run lives, and what the run leaves behind
(``training/artifacts.py``). CPU runs in float32; CUDA runs in bf16 autocast with gradient
checkpointing. Under ``accelerate launch`` the same code runs data-parallel (DDP, FSDP, DeepSpeed).
"""

from __future__ import annotations

import logging
import os
import random
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, Field, ValidationError

from scireflect.errors import ConfigError, missing_dependency
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
    learning_rate: float | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int = Field(default=-1, ge=-1, description="stop after this many optimizer steps (-1: epochs)")
    batch_size: int = Field(default=4, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    max_length: int = Field(default=1024, ge=8)
    packing: bool = False
    seed: int = 0
    val_split: float = Field(default=0.1, ge=0.0, lt=1.0)
    eval_steps: float | None = Field(default=None, gt=0, description="steps between evaluations (<1: ratio)")
    logging_steps: float = Field(default=5, gt=0)
    save_steps: float = Field(default=100, gt=0)
    save_total_limit: int = Field(default=2, ge=1)
    warmup: float = Field(default=0.03, ge=0, description="warmup steps (<1: ratio of all steps)")
    lr_scheduler: str = "cosine"
    weight_decay: float = Field(default=0.0, ge=0)
    resume: bool = False
    tensorboard: bool = False
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


def make_options(**kwargs: Any) -> TrainOptions:
    """TrainOptions or a one-line ConfigError naming the bad option."""
    try:
        return TrainOptions(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"invalid training option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


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


class _RunLog:
    """Copies the scireflect, transformers, TRL and PEFT loggers into ``RUN/train.log`` for the run."""

    NAMES = ("scireflect", "transformers", "trl", "peft")

    def __init__(self, path: Path):
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.saved: dict[str, int] = {}

    def __enter__(self) -> "_RunLog":
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


# --- data -------------------------------------------------------------------------------------

def load_examples(opts: TrainOptions, settings: Settings) -> LoadedData:
    if opts.from_store and opts.data is not None:
        raise ConfigError("pass either --data FILE or --from-store, not both")
    if opts.from_store:
        return load_store(settings, opts.store_filters, opts.skip_bad, opts.val_split, opts.seed)
    if opts.data is None:
        raise ConfigError("no training data: pass --data FILE (JSONL, JSON or a saved dataset) or --from-store")
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

def sft_config(opts: TrainOptions, run_dir: Path, prec: dict[str, Any], device: str, has_val: bool) -> Any:
    from trl import SFTConfig

    if opts.tensorboard:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    try:
        return _sft_config(SFTConfig, opts, run_dir, prec, device, has_val)
    except ValueError as e:  # an option combination TrainingArguments rejects (e.g. an unknown scheduler)
        raise ConfigError(f"invalid training configuration: {e}") from e


def _sft_config(cls: Any, opts: TrainOptions, run_dir: Path, prec: dict[str, Any], device: str,
                has_val: bool) -> Any:
    return cls(
        output_dir=str(run_dir / CHECKPOINTS), seed=opts.seed, data_seed=opts.seed,
        learning_rate=opts.learning_rate, num_train_epochs=opts.epochs, max_steps=opts.max_steps,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=opts.batch_size,
        gradient_accumulation_steps=opts.grad_accum, lr_scheduler_type=opts.lr_scheduler,
        warmup_steps=opts.warmup, weight_decay=opts.weight_decay,
        max_length=opts.max_length, packing=opts.packing, eval_packing=opts.packing,
        bf16=prec["bf16"], fp16=False, use_cpu=device == "cpu", gradient_checkpointing=prec["gradient_checkpointing"],
        logging_steps=opts.logging_steps, logging_first_step=True,
        eval_strategy="steps" if has_val else "no", eval_steps=opts.eval_steps or (0.2 if has_val else None),
        save_strategy="steps", save_steps=opts.save_steps, save_total_limit=opts.save_total_limit,
        report_to=["tensorboard"] if opts.tensorboard else "none",
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

    ``callbacks`` are extra transformers ``TrainerCallback``s (tests use one to watch the weights).
    """
    _import_stack()
    opts = opts.resolved()
    if opts.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError as e:
            raise ConfigError("--tensorboard needs tensorboard; install it with: pip install tensorboard") from e
    run_dir = run_dir_for(opts, settings)
    resume_from = _checkpoint_to_resume(opts, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under accelerate launch only rank 0 writes the log
    with (_RunLog(run_dir / artifacts.LOG_FILE) if main_rank else nullcontext()), _quiet():
        log.info("run %s: %s", run_dir, opts.model_dump_json(exclude_none=True))
        return _train(opts, settings, run_dir, resume_from, progress, callbacks or [])


def _train(opts: TrainOptions, settings: Settings, run_dir: Path, resume_from: Path | None,
           progress: bool, extra: list[Any]) -> TrainResult:
    from transformers import set_seed

    from scireflect.training.callbacks import ProgressBar, RunRecorder

    loaded = load_examples(opts, settings)  # bad data fails before the (slow) base model load
    for line in loaded.skipped:
        log.warning("skipped bad record: %s", line)
    device = pick_device(opts)
    prec = precision(opts, device)
    ref = resolve_base(opts.base, settings)
    tokenizer = load_tokenizer(ref)
    ensure_chat_template(tokenizer)
    train_rows, val_rows, stats = _prepare_rows(opts, loaded, tokenizer)
    memory = check_full_finetune_memory(ref, device, prec["dtype_name"]) if opts.full else None
    set_seed(opts.seed)
    model = load_model(ref, prec["dtype"])
    recorder = RunRecorder(device)
    callbacks = [recorder, *extra] + ([ProgressBar(recorder)] if progress else [])
    args = sft_config(opts, run_dir, prec, device, bool(val_rows))
    trainer = build_trainer(opts, model, tokenizer, args, train_rows, val_rows, callbacks)
    started = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    wall = time.perf_counter() - started
    final_val = trainer.evaluate()["eval_loss"] if val_rows else None
    if final_val is not None and (not recorder.eval_loss or recorder.eval_loss[-1][0] != trainer.state.global_step):
        recorder.eval_loss.append((trainer.state.global_step, float(final_val)))
    metrics = _metrics(opts, trainer, out, recorder, stats, loaded, device, wall, final_val, resume_from, memory)
    # The saved files name the base portably; where it was loaded from here is run metadata.
    metrics["base_model"] = {"name": ref.portable_name, "local_path": ref.path, "source": ref.source,
                             "kind": ref.kind}
    # Every rank takes part in saving (ZeRO-3 and FSDP gather the sharded weights); rank 0 writes the rest.
    trainer.save_model(str(run_dir))  # LoRA: adapter_config.json + adapter_model.safetensors; --full: the model
    if trainer.is_world_process_zero():
        _portable_adapter_base(run_dir, ref)
        _save(opts, tokenizer, run_dir, ref, args, prec, metrics, recorder, loaded)
    log.info("done: %s", {k: metrics[k] for k in ("final_train_loss", "final_val_loss", "tokens_per_s")})
    return TrainResult(run_dir, metrics)


def _metrics(opts: TrainOptions, trainer: Any, out: Any, recorder: Any, stats: TokenStats, loaded: LoadedData,
             device: str, wall: float, final_val: float | None, resume_from: Path | None,
             memory: dict[str, Any] | None) -> dict[str, Any]:
    from scireflect.training.callbacks import peak_memory_mb

    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    return {
        "mode": "full" if opts.full else "lora",
        "device": device,
        "global_step": trainer.state.global_step,
        "resumed_from_step": int(resume_from.name.split("-")[-1]) if resume_from else None,
        "epochs_done": trainer.state.epoch,
        "first_train_loss": recorder.train_loss[0][1] if recorder.train_loss else None,
        "final_train_loss": recorder.train_loss[-1][1] if recorder.train_loss else None,
        "mean_train_loss": out.training_loss,
        "final_val_loss": final_val,
        "train_loss_curve": recorder.train_loss,
        "val_loss_curve": recorder.eval_loss,
        "tokens_trained": recorder.tokens,
        "train_seconds": round(recorder.step_seconds, 3),
        "wall_seconds": round(wall, 3),
        "tokens_per_s": round(recorder.tokens_per_s, 2),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "data": {"source": loaded.source, "skipped_bad_records": len(loaded.skipped), **stats.to_json()},
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
        "sft_config": args.to_dict(),
        "data_source": loaded.source,
    })
    artifacts.write_json(run_dir / artifacts.METRICS_FILE, metrics)
    artifacts.plot_loss_curve(run_dir / artifacts.CURVE_FILE, recorder.train_loss, recorder.eval_loss,
                              f"{metrics['mode']} on {ref.name}")
