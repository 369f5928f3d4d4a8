"""``scireflect train`` (LoRA or full SFT) and ``scireflect train merge``: parse flags, delegate to training/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from scireflect.cli import app
from scireflect.cli.common import DebugOpt, HomeOpt, JsonOpt, cli_errors, console, print_json, settings_from
from scireflect.errors import ConfigError

train_app = typer.Typer(help="Fine-tune a model on exported records (LoRA by default; --full for all parameters).")
app.add_typer(train_app, name="train")


REPORT_TO = ("tensorboard", "wandb", "mlflow")


def _report_to(items: list[str] | None, tensorboard: bool) -> list[str]:
    """``--report-to`` values (repeat or comma-separate; ``none`` clears) plus the ``--tensorboard`` alias."""
    out: list[str] = []
    for item in items or []:
        for name in filter(None, (part.strip().lower() for part in item.split(","))):
            if name == "none":
                out = []
            elif name in REPORT_TO:
                out.append(name)
            else:
                raise ConfigError(f"--report-to takes {', '.join(REPORT_TO)} or none, got {name!r}")
    if tensorboard:
        out.append("tensorboard")
    return list(dict.fromkeys(out))


def _filters(items: list[str] | None) -> dict[str, Any]:
    """``--filter key=value`` pairs for the store export; values are JSON when they parse (true, 0.5)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--filter expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


@train_app.callback(invoke_without_command=True)
@cli_errors
def train(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Option("--data", help="JSONL/JSON file or saved datasets dir")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="read records from the record store")] = False,
    store_filter: Annotated[Optional[list[str]], typer.Option(
        "--filter", help="store export filter KEY=VALUE (repeat; with --from-store)")] = None,
    decontaminate: Annotated[bool, typer.Option(
        "--decontaminate/--no-decontaminate", help="with --from-store: leave out records that match a benchmark "
                                                   "item (listed in RUN/train.log)")] = True,
    against: Annotated[Optional[list[str]], typer.Option(
        "--against", help="benchmark name or file to decontaminate against (repeat) [every named benchmark]")] = None,
    decontam_method: Annotated[Optional[list[str]], typer.Option(
        "--decontam-method", help="ngram | minhash | embedding (repeat) [ngram, minhash]")] = None,
    base: Annotated[Optional[str], typer.Option(
        "--base", help="model dir, cached hub id or .gguf (default: the embedded SmolLM2-135M-Instruct)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="run directory (default: HOME/train/NAME)")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="run name under HOME/train")] = None,
    full: Annotated[bool, typer.Option("--full", help="full fine-tuning, SciGLM preset: lr 3e-6, 2 epochs")] = False,
    lora_r: Annotated[Optional[int], typer.Option("--lora-r", help="LoRA rank [16]")] = None,
    lora_alpha: Annotated[Optional[int], typer.Option("--lora-alpha", help="LoRA alpha [32]")] = None,
    lora_dropout: Annotated[Optional[float], typer.Option("--lora-dropout", help="LoRA dropout [0.05]")] = None,
    target_module: Annotated[Optional[list[str]], typer.Option(
        "--target-module", help="LoRA target module name (repeat) [all linear layers]")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="learning rate [2e-4 LoRA, 3e-6 --full]")] = None,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="epochs [3 LoRA, 2 --full]")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="stop after N optimizer steps")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="per-device batch size [4]")] = None,
    grad_accum: Annotated[Optional[int], typer.Option("--grad-accum", help="gradient accumulation [1]")] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="max tokens per sequence [1024]")] = None,
    packing: Annotated[bool, typer.Option("--packing", help="pack sequences into max-length blocks")] = False,
    seed: Annotated[Optional[int], typer.Option("--seed", help="random seed [0]")] = None,
    val_split: Annotated[Optional[float], typer.Option("--val-split", help="held-out fraction [0.1]")] = None,
    eval_steps: Annotated[Optional[float], typer.Option("--eval-steps", help="steps between evals (<1: ratio)")] = None,
    logging_steps: Annotated[Optional[float], typer.Option("--logging-steps", help="steps between logs [5]")] = None,
    save_steps: Annotated[Optional[float], typer.Option("--save-steps", help="steps between checkpoints [100]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out/--name from its last "
                                                          "checkpoint")] = False,
    report_to: Annotated[Optional[list[str]], typer.Option(
        "--report-to", metavar="NAME", help="tensorboard | wandb | mlflow | none (repeat or comma-separate), "
                                            "passed to transformers' report_to [none]")] = None,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="same as --report-to tensorboard "
                                                                    "(RUN/tensorboard)")] = False,
    threads: Annotated[Optional[int], typer.Option(
        "--threads", metavar="N", help="torch CPU threads [the free physical cores: cores less the load]")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="skip malformed records (logged) instead of "
                                                              "failing")] = False,
    device: Annotated[Optional[str], typer.Option("--device", help="auto | cpu | cuda")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no status lines or progress on stderr")] = False,
    home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False,
) -> None:
    """Train a LoRA adapter (or the full model) with TRL's SFTTrainer; loss on the answers only."""
    if ctx.invoked_subcommand is not None:
        return
    from scireflect.training.sft import make_options
    from scireflect.training.sft import train as run_training

    settings = settings_from(home)
    store_filters = _filters(store_filter)
    if from_store:
        store_filters.update(decontaminate=decontaminate, against=list(against or []),
                             decontam_method=list(decontam_method or []))
    elif against or decontam_method:
        raise ConfigError("--against and --decontam-method choose the decontamination of --from-store; a --data "
                          "file is trained on as it is (export it with `scireflect store export`)")
    opts = make_options(data=data, from_store=from_store, store_filters=store_filters, base=base, out=out,
                        name=name, full=full, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                        target_modules=target_module or None, learning_rate=lr, epochs=epochs, max_steps=max_steps,
                        batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, packing=packing,
                        seed=seed, val_split=val_split, eval_steps=eval_steps, logging_steps=logging_steps,
                        save_steps=save_steps, resume=resume, report_to=_report_to(report_to, tensorboard),
                        threads=threads, skip_bad=skip_bad, device=device)
    # status lines and progress go to stderr, so --json keeps stdout to the JSON
    result = run_training(opts, settings, progress=not no_progress)
    m = result.metrics
    if as_json:
        print_json({"run_dir": str(result.run_dir),
                    **{k: v for k, v in m.items() if k not in ("train_loss_curve", "val_loss_curve")}})
        return
    for line in summary(result.run_dir, m, opts.max_length):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def summary(run_dir: Path, m: dict[str, Any], max_length: int) -> list[str]:
    """What a person reads when the run is over: the run, the loss it ended on (and where), where to go next."""
    lines = [f"{m['mode']} run in {run_dir}: {m['global_step']} steps in {m['train_seconds']:.1f} s, "
             f"{m['tokens_per_s']:.1f} tokens/s, peak {m['peak_memory_mb']:.0f} MB"]
    if m["final_train_loss"] is not None:
        first = f"{m['first_train_loss']:.4f} at step {m['first_train_loss_step']} -> " \
            if m["first_train_loss_step"] != m["final_train_loss_step"] else ""
        lines.append(f"train loss {first}{m['final_train_loss']:.4f} at step {m['final_train_loss_step']} "
                     f"(last logged)")
    if m["final_val_loss"] is not None:
        lines.append(f"val loss {m['final_val_loss']:.4f} at step {m['final_val_loss_step']}")
    if m["data"]["truncated"]:
        lines.append(f"{m['data']['truncated']} sequence(s) truncated to {max_length} tokens "
                     f"({m['data']['dropped']} dropped); see {run_dir}/train.log")
    if m["mode"] == "lora":
        lines.append(f"merge it with: scireflect train merge {run_dir} --out DIR")
    return lines


@train_app.command("merge")
@cli_errors
def merge(adapter: Annotated[Path, typer.Argument(help="run directory holding adapter_config.json")],
          out: Annotated[Path, typer.Option("--out", help="directory for the standalone merged model")],
          dtype: Annotated[str, typer.Option("--dtype", help="auto | float32 | bfloat16 | float16")] = "auto",
          as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Fold a LoRA adapter into its base model and save a standalone model."""
    from scireflect.training.artifacts import merge_adapter

    info = merge_adapter(adapter, out, dtype=dtype)
    if as_json:
        print_json(info)
    else:
        console.print(f"merged {info['adapter']} into {info['base']} -> {info['out']} ({info['dtype']})", markup=False)
