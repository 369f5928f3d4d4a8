"""Typed settings for every command.

Precedence, highest first: CLI flag > ``SCIREFLECT_*`` environment variable > ``scireflect.toml``
in the working directory > the defaults below. The run's settings snapshot is stored with the run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

CONFIG_FILE = "scireflect.toml"

# Settings that change what the pipeline produces; they enter the pipeline version.
OUTPUT_SETTINGS = ("provider", "model", "temperature", "max_tokens", "seed", "max_rounds", "stage3",
                   "require_steps", "tolerance", "verifiers", "retrieval", "retrieval_k")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIREFLECT_", toml_file=CONFIG_FILE, extra="ignore",
                                      validate_default=True)

    # Workspace: every file the tool writes lives under it.
    home: Path = Field(default=Path(".scireflect"), description="workspace directory")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home")

    # LLM provider.
    provider: Literal["llamacpp", "openai"] = "llamacpp"
    model: str | None = Field(default=None, description="GGUF path (llamacpp) or model name (openai)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (openai)")
    base_urls: list[str] = Field(default_factory=list, description="extra endpoints, used round-robin")
    api_key: str | None = None
    n_ctx: int = Field(default=4096, ge=256)
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads of an in-process model (llama.cpp, "
                                  "torch); default: `run`/`solve` take the free physical cores shared among "
                                  "worker processes")

    # Generation.
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, description="default: 256 for the embedded model, "
                                                                      "1024 otherwise")
    seed: int = 0

    # Graph.
    max_rounds: int = Field(default=2, ge=0, le=20, description="critique/revise rounds without the answer")
    stage3: bool = Field(default=True, description="revise with the reference answer shown when stage 2 fails")
    require_steps: bool = False
    verifiers: list[str] | None = Field(default=None, description="the verifiers to run (the named ones only); "
                                        "default: every built-in that applies. Plugin verifiers run only when named")
    tolerance: float = Field(default=0.01, ge=0.0, description="default relative tolerance for decimals")
    retrieval: bool = True
    retrieval_k: int = Field(default=3, ge=1, le=50)

    # Textbook retrieval (tools/retrieval). Chroma data lives under HOME/chroma unless chroma_url is set.
    chroma_url: str | None = Field(default=None, description="Chroma server http://HOST:PORT; default: local")
    collection: str = Field(default="textbooks", min_length=3, max_length=63, description="Chroma collection")
    embedding_model: str = Field(default="all-MiniLM-L6-v2",
                                 description="bundled all-MiniLM-L6-v2, a sentence-transformers model directory, "
                                             "or the model name at embedding_url")
    embedding_url: str | None = Field(default=None, description="OpenAI-compatible embeddings endpoint (/v1); "
                                                                "key from SCIREFLECT_EMBEDDING_API_KEY")
    chunk_tokens: int = Field(default=200, ge=16, le=2048, description="chunk size in word/punctuation tokens")
    chunk_overlap: int = Field(default=40, ge=0, le=1024, description="tokens repeated between chunks")

    # Evaluation harness (evaluation/). Named benchmarks are looked up in HOME/benchmarks, these folders,
    # and examples/benchmarks of a source checkout.
    benchmark_dirs: list[Path] = Field(default_factory=list, description="extra folders of named benchmarks")

    # Training data (training/student.py, scireflect/store/card.py).
    student_prompts_dir: Path | None = Field(
        default=None, description="folder overriding training/prompts/student.system.jinja and student.user.jinja "
                                  "(the prompt export writes and eval sends)")
    dataset_license: str = Field(default="cc-by-4.0", min_length=1,
                                 description="license written into dataset cards (an SPDX-style id HF accepts)")

    # Quality classifier and gate (training/classifier.py, training/gate.py); the model lives in HOME/classifier.
    classifier_target_precision: float = Field(default=0.9, gt=0.0, le=1.0,
                                               description="precision the gate's threshold is chosen for")
    classifier_folds: int = Field(default=5, ge=2, le=20, description="cross-validation folds for the threshold")
    classifier_min_per_class: int = Field(default=10, ge=3, description="fewest good and bad labeled examples")

    # Timeouts and retries.
    llm_timeout_s: float = Field(default=300.0, gt=0)
    verifier_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    retry_errors: bool = Field(default=True, description="a rerun runs again the questions that ended 'error' "
                                                         "for a transient reason (a model call that failed)")
    retry_base_s: float = Field(default=0.5, ge=0)
    retry_max_s: float = Field(default=20.0, ge=0)

    # Accounting (USD per million tokens; 0 for local models).
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0

    # Batch runs at scale (graph/pipeline.py, graph/distributed.py, scireflect/dedup.py).
    checkpoints: bool = Field(default=True, description="resume in-flight questions from LangGraph checkpoints")
    dedup: bool = Field(default=True, description="skip exact and near-duplicate questions of a run")
    dedup_threshold: float = Field(default=0.8, gt=0.0, le=1.0,
                                   description="MinHash Jaccard similarity above which questions are near-duplicates")
    workers: int | Literal["auto"] = Field(
        default="auto", description="worker processes (local) or actors (ray) per run, 1 to 256; auto: one per "
        "core for large runs against HTTP endpoints at concurrency >= 64, else 1 (graph/distributed.py)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _default_max_tokens(self) -> "Settings":
        # The embedded 135M model loops rather than stopping; real models need room for a derivation.
        if self.max_tokens is None:
            self.max_tokens = 256 if self.provider == "llamacpp" and not self.model else 1024
        return self

    @field_validator("workers", mode="after")
    @classmethod
    def _workers_range(cls, v: int | str) -> int | str:
        if v != "auto" and not 1 <= int(v) <= 256:
            raise ValueError("workers must be auto or between 1 and 256")
        return v

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        v = v.expanduser()
        if v.exists() and not v.is_dir():
            raise ValueError(f"the workspace {v} exists and is not a directory")
        return v

    # Workspace paths -------------------------------------------------------
    def path(self, *parts: str, mkdir: bool = True) -> Path:
        """A path under the workspace; the parent folder is created."""
        p = self.home.joinpath(*parts)
        if mkdir:
            p.parent.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.path('scireflect.db').resolve()}"

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe settings for storing with a run (secrets removed)."""
        data = json.loads(self.model_dump_json())
        if data.get("api_key"):
            data["api_key"] = "***"
        if data.get("database_url") and "@" in str(data["database_url"]):
            data["database_url"] = "***"
        return data

    def output_fingerprint(self) -> str:
        data = {k: getattr(self, k) for k in OUTPUT_SETTINGS}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def load_settings(**overrides: Any) -> Settings:
    """Settings with CLI overrides applied; ``None`` overrides mean "not given on the command line"."""
    given = {k: v for k, v in overrides.items() if v is not None}
    from pydantic import ValidationError

    from scireflect.errors import ConfigError

    try:
        return Settings(**given)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"invalid setting {loc}: {str(err['msg']).removeprefix('Value error, ')}") from e
    except Exception as e:  # malformed scireflect.toml
        raise ConfigError(f"could not read settings ({CONFIG_FILE}): {e}") from e
