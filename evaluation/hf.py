"""Batched generation with transformers: left-padded batches through ``model.generate``, with an
optional PEFT (LoRA) adapter checked against the base model before it is applied.

The base is resolved as fine-tuning resolves it (``training.base_model``: a model folder, a cached hub
id, or a GGUF converted once under ``HOME/models/``; default the embedded SmolLM2), so an adapter
trained by ``scireflect train`` is evaluated on exactly its base. Loaded bases are kept for the
process: comparing base against adapter, or batch sizes in the benchmark, loads the weights once.
Each row of a batch is handed on as soon as it ends, so items are scored, stored and counted by the
progress display as they finish rather than when the whole batch does.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from scireflect.errors import ConfigError, missing_dependency
from scireflect.evaluation.backends import Activity, Backend, Generation, Job, Message, OnDone
from scireflect.settings import Settings


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise missing_dependency("transformers", "train") from e
    return torch, transformers


def resolve(model: str | None, settings: Settings) -> Any:
    """The base as training resolves it (``training.base_model``): a model folder, a cached hub id,
    or a GGUF converted once into a plain checkpoint under ``HOME/models/``; never downloaded."""
    from scireflect.training.base_model import resolve_base

    return resolve_base(model, settings)


@lru_cache(maxsize=2)
def load_base(path: str) -> tuple[Any, Any]:
    """(model, tokenizer) of a local model folder, in eval mode, the tokenizer padding on the left."""
    torch, transformers = _imports()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"could not load model {path} with transformers: {str(e).splitlines()[0][:300]}") from e
    model.eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"  # decoder-only batches grow to the right
    return model, tok


def _adapter_tensors(adapter: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the adapter's saved tensors (read lazily; no weights loaded)."""
    st = adapter / "adapter_model.safetensors"
    if st.is_file():
        from safetensors import safe_open

        with safe_open(str(st), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    binf = adapter / "adapter_model.bin"
    if binf.is_file():
        import torch

        return {k: tuple(v.shape) for k, v in torch.load(binf, map_location="cpu", weights_only=True).items()}
    raise ConfigError(f"adapter {adapter} has no adapter_model.safetensors or adapter_model.bin")


def check_adapter(model: Any, adapter: Path, base_name: str) -> dict[str, Any]:
    """Raise a ConfigError naming the first layer where the adapter does not fit the base model."""
    cfg_path = adapter / "adapter_config.json"
    if not cfg_path.is_file():
        raise ConfigError(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read {cfg_path}: {e}") from e
    trained_on = cfg.get("base_model_name_or_path") or "an unrecorded base model"
    modules = dict(model.named_modules())
    for key, shape in _adapter_tensors(adapter).items():
        name = key.removeprefix("base_model.model.")
        for part in (".lora_A.weight", ".lora_B.weight", ".lora_embedding_A", ".lora_embedding_B"):
            name = name.replace(part, "")
        mod = modules.get(name)
        problem = None
        if mod is None:
            problem = f"it adapts layer {name!r}, which the base model does not have"
        elif ".lora_A.weight" in key and hasattr(mod, "in_features") and shape[-1] != mod.in_features:
            problem = f"layer {name!r} takes {mod.in_features} inputs in the base model, {shape[-1]} in the adapter"
        elif ".lora_B.weight" in key and hasattr(mod, "out_features") and shape[0] != mod.out_features:
            problem = f"layer {name!r} has {mod.out_features} outputs in the base model, {shape[0]} in the adapter"
        if problem:
            raise ConfigError(f"adapter {adapter} does not match base model {base_name}: {problem} "
                              f"(the adapter was trained on {trained_on})")
    return {"path": str(adapter), "trained_on": trained_on, "r": cfg.get("r"),
            "target_modules": cfg.get("target_modules")}


def attach_adapter(model: Any, adapter: Path, base_name: str) -> tuple[Any, dict[str, Any]]:
    try:
        from peft import PeftModel
    except ImportError as e:
        raise missing_dependency("peft", "train") from e
    info = check_adapter(model, adapter, base_name)
    try:
        # A copy: PEFT injects its layers into the module it is given, and the base stays cached.
        wrapped = PeftModel.from_pretrained(copy.deepcopy(model), str(adapter), is_trainable=False)
    except (RuntimeError, ValueError, KeyError, OSError) as e:
        raise ConfigError(f"adapter {adapter} does not match base model {base_name}: "
                          f"{str(e).splitlines()[0][:300]}") from e
    wrapped.eval()
    return wrapped, info


@lru_cache(maxsize=1)
def _watcher_class() -> type:
    """A stopping criterion that never stops: it only watches each decoding step (transformers is
    imported lazily, so the class is made on first use)."""
    _, transformers = _imports()

    class Watcher(transformers.StoppingCriteria):
        def __init__(self, on_step: Callable[[Any], None]):
            self.on_step = on_step

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            self.on_step(input_ids)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return Watcher


@dataclass
class _Batch:
    """The batch being decoded, as the progress display reads it."""

    rows: int
    started: float = field(default_factory=time.monotonic)
    steps: int = 0
    finished: int = 0


class HFBackend(Backend):
    provider = "hf"

    def __init__(self, settings: Settings, adapter: str | None = None, batch_size: int = 8):
        if batch_size < 1:
            raise ConfigError("--concurrency (the batch size for --provider hf) must be at least 1")
        self.settings, self.batch_size = settings, batch_size
        self._batch: _Batch | None = None
        if settings.n_threads:
            # The same knob as llama.cpp's; on a shared CPU fewer threads than cores avoids OpenMP thrashing.
            torch, _ = _imports()
            torch.set_num_threads(settings.n_threads)
        self.base = resolve(settings.model, settings)
        self.model, self.tok = load_base(self.base.path)
        self.adapter: dict[str, Any] | None = None
        if adapter:
            path = Path(adapter).expanduser()
            if not path.is_dir():
                raise ConfigError(f"adapter folder not found: {path}")
            self.model, self.adapter = attach_adapter(self.model, path.resolve(), self.base.name)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"provider": "hf", "model": self.base.name, "model_path": self.base.source, "base_dir": self.base.path,
                "adapter": self.adapter, "temperature": s.temperature, "max_tokens": s.max_tokens, "seed": s.seed,
                "batch_size": self.batch_size, "chat_template": bool(self.tok.chat_template),
                "threads": self.settings.n_threads}

    def activity(self) -> Activity:
        b = self._batch
        if b is None:
            return Activity()
        left = b.rows - b.finished
        share = min(1.0, b.steps / max(1, self.settings.max_tokens))
        return Activity(in_flight=left, oldest_s=time.monotonic() - b.started, partial=left * share)

    def _prompt(self, msgs: list[Message]) -> str:
        if self.tok.chat_template:
            return self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        # A base model without a chat template gets a plain transcript.
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
        return "\n\n".join(lines) + "\n\nAssistant:"

    def run(self, jobs: Sequence[Job], on_done: OnDone) -> None:
        prompts = [(item_id, self._prompt(msgs)) for item_id, msgs in jobs]
        # Similar lengths in one batch waste less compute on padding.
        prompts.sort(key=lambda p: len(p[1]), reverse=True)
        for i in range(0, len(prompts), self.batch_size):
            batch = prompts[i:i + self.batch_size]
            ids = [b[0] for b in batch]
            self.generate([b[1] for b in batch], lambda row, gen: on_done(ids[row], gen))

    def _eos_ids(self) -> set[int]:
        ids = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        out = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self.tok.eos_token_id is not None:
            out.add(self.tok.eos_token_id)
        return out

    def _row(self, tokens: Any, mask: Any, latency_s: float) -> Generation:
        return Generation(text=self.tok.decode(tokens, skip_special_tokens=True).strip(), tokens_in=int(mask.sum()),
                          tokens_out=int((tokens != self.tok.pad_token_id).sum()), latency_s=latency_s)

    def generate(self, texts: list[str], on_row: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """Generate a batch; ``on_row(row, generation)`` is called for each row as soon as it ends."""
        torch, transformers = _imports()
        s = self.settings
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        opts: dict[str, Any] = {"max_new_tokens": s.max_tokens, "pad_token_id": self.tok.pad_token_id}
        if s.temperature > 0:
            torch.manual_seed(s.seed)
            opts.update(do_sample=True, temperature=s.temperature)
        else:
            opts.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        start, eos, mask = enc["input_ids"].shape[1], self._eos_ids(), enc["attention_mask"]
        gens: dict[int, Generation] = {}
        batch = self._batch = _Batch(rows=len(texts))
        t0 = time.perf_counter()

        def step(input_ids: Any) -> None:
            batch.steps = input_ids.shape[1] - start
            for row, tok in enumerate(input_ids[:, -1].tolist()):
                if row not in gens and tok in eos:
                    gens[row] = self._row(input_ids[row, start:], mask[row], time.perf_counter() - t0)
                    batch.finished += 1
                    if on_row:
                        on_row(row, gens[row])

        watch = transformers.StoppingCriteriaList([_watcher_class()(step)])
        try:
            with torch.inference_mode():
                out = self.model.generate(**enc, **opts, stopping_criteria=watch)
            elapsed = time.perf_counter() - t0
            for row in range(len(texts)):  # rows that ran to max_new_tokens
                if row not in gens:
                    gens[row] = self._row(out[row, start:], mask[row], elapsed)
                    if on_row:
                        on_row(row, gens[row])
        finally:
            self._batch = None
        return [gens[row] for row in range(len(texts))]
