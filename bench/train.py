"""Training throughput: tokens/s and peak memory of LoRA on SmolLM2-135M (embedded GGUF) on CPU, with and
without packing; on a CUDA machine also the same on the GPU with model FLOPs utilization.

Each configuration runs in its own process, so peak memory (RSS on CPU, allocated on GPU) is its own.
The first optimizer step (allocation, warm-up) is left out of tokens/s.

    .venv/bin/python bench/train.py [--steps 6] [--max-length 256] [--batch-size 4] [--gpu-model DIR]

Last line: ``cpu_tokens_per_s=<float> cpu_peak_mem_mb=<float>`` (LoRA, no packing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# Dense bf16 peak TFLOPS for MFU, by substring of torch.cuda.get_device_name() (override with --peak-tflops).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                    "4090": 165.0, "3090": 71.0, "V100": 125.0}

SUBJECTS = ["physics", "chemistry", "mathematics"]


def make_data(path: Path, n: int = 64) -> Path:
    """Science Q&A with answers of varied length (packing only pays when lengths differ)."""
    rows = []
    for i in range(n):
        subject = SUBJECTS[i % 3]
        steps = " ".join(f"Step {k + 1}: apply the relation for quantity {k} and simplify the expression, keeping "
                         f"units consistent." for k in range(1 + i % 7))
        rows.append({"messages": [
            {"role": "user", "content": f"[{subject}] Problem {i}: a body of mass {i + 1} kg moves at {2 * i + 1} "
                                        f"m/s. Find its kinetic energy and explain each step."},
            {"role": "assistant", "content": f"{steps} So the kinetic energy is {(i + 1) * (2 * i + 1) ** 2 / 2} J."},
        ]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One training run in this process; returns throughput and memory."""
    from transformers import TrainerCallback

    from scireflect.settings import Settings
    from scireflect.training.callbacks import peak_memory_mb
    from scireflect.training.sft import make_options, train

    class Steps(TrainerCallback):
        def __init__(self) -> None:
            self.rows: list[tuple[float, int]] = []

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if spec["device"] == "cuda":
                import torch

                torch.cuda.synchronize()
            self.t0, self.n0 = time.perf_counter(), state.num_input_tokens_seen

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if spec["device"] == "cuda":
                import torch

                torch.cuda.synchronize()
            self.rows.append((time.perf_counter() - self.t0, state.num_input_tokens_seen - self.n0))

    steps = Steps()
    opts = make_options(data=Path(spec["data"]), base=spec.get("base"), out=Path(spec["out"]),
                        max_steps=spec["steps"], batch_size=spec["batch_size"], max_length=spec["max_length"],
                        packing=spec["packing"], full=spec.get("full", False), val_split=0, save_steps=10_000,
                        logging_steps=1, device=spec["device"], learning_rate=1e-4)
    result = train(opts, Settings(home=Path(spec["home"])), callbacks=[steps])
    timed = steps.rows[1:] or steps.rows  # drop the warm-up step
    seconds, tokens = sum(t for t, _ in timed), sum(n for _, n in timed)
    out = {"tokens_per_s": tokens / seconds if seconds else 0.0, "peak_mem_mb": peak_memory_mb(spec["device"]),
           "steps": len(timed), "tokens": tokens, "seconds": seconds,
           "parameters": result.metrics["total_parameters"], "trainable": result.metrics["trainable_parameters"],
           "final_train_loss": result.metrics["final_train_loss"]}
    if spec["device"] == "cuda":
        out.update(_mfu(out, spec))
    return out


def _mfu(out: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Model FLOPs utilization: 6N FLOPs per token for full training, 4N for LoRA (no weight gradients of the
    frozen base), attention FLOPs left out; against the GPU's dense bf16 peak."""
    import torch

    name = torch.cuda.get_device_name()
    peak = spec.get("peak_tflops") or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    per_token = (6 if spec.get("full") else 4) * out["parameters"]
    achieved = per_token * out["tokens_per_s"] / 1e12
    return {"gpu": name, "model_tflops": achieved, "peak_tflops": peak,
            "mfu": achieved / peak if peak else None}


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        cmd = [sys.executable, __file__, "--worker", json.dumps(spec), "--result", f.name]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark run {spec['label']} failed:\n{proc.stderr[-3000:]}")
        return json.loads(Path(f.name).read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--gpu-model", default=None, help="0.1-1B model dir for the GPU run [embedded SmolLM2]")
    ap.add_argument("--peak-tflops", type=float, default=None, help="GPU peak bf16 TFLOPS for MFU")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        Path(args.result).write_text(json.dumps(worker(json.loads(args.worker))))
        return

    RESULTS.mkdir(parents=True, exist_ok=True)
    home = RESULTS / "train-ws"  # the converted GGUF is cached here between benchmark runs
    data = make_data(RESULTS / "train-bench.jsonl")
    common = {"data": str(data), "home": str(home), "steps": args.steps, "batch_size": args.batch_size,
              "max_length": args.max_length}
    runs = [{"label": "cpu lora", "device": "cpu", "packing": False},
            {"label": "cpu lora packed", "device": "cpu", "packing": True}]
    import torch

    if torch.cuda.is_available():
        runs += [{"label": "gpu lora", "device": "cuda", "packing": False, "base": args.gpu_model},
                 {"label": "gpu lora packed", "device": "cuda", "packing": True, "base": args.gpu_model},
                 {"label": "gpu full", "device": "cuda", "packing": False, "base": args.gpu_model, "full": True}]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        _run({**common, **runs[0], "out": f"{tmp}/warm", "steps": 1})  # converts the GGUF once, untimed
        for i, spec in enumerate(runs):
            results[spec["label"]] = _run({**common, **spec, "out": f"{tmp}/run{i}", "peak_tflops": args.peak_tflops})
    print(f"{'run':<18} {'tokens/s':>10} {'peak MB':>9} {'steps':>6} {'MFU':>7}")
    for label, r in results.items():
        mfu = f"{r['mfu'] * 100:.1f}%" if r.get("mfu") is not None else "-"
        print(f"{label:<18} {r['tokens_per_s']:>10.1f} {r['peak_mem_mb']:>9.0f} {r['steps']:>6} {mfu:>7}")
    meta = {"steps": args.steps, "batch_size": args.batch_size, "max_length": args.max_length,
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "results": results}
    (RESULTS / "train.json").write_text(json.dumps(meta, indent=2))
    cpu = results["cpu lora"]
    print(f"cpu_tokens_per_s={cpu['tokens_per_s']:.2f} cpu_peak_mem_mb={cpu['peak_mem_mb']:.1f}")


if __name__ == "__main__":
    main()
