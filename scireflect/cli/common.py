"""Shared CLI plumbing: common options, settings from flags, one-line errors with exit codes."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from rich.console import Console

from scireflect.errors import ScireflectError
from scireflect.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="workspace directory [env: SCIREFLECT_HOME]")]
ProviderOpt = Annotated[Optional[str], typer.Option("--provider", help="llamacpp | openai")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="GGUF path (llamacpp) or model name (openai)")]
BaseUrlOpt = Annotated[Optional[list[str]], typer.Option(
    "--base-url", help="OpenAI-compatible endpoint; repeat for round-robin")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="show tracebacks")]


def settings_from(home: Path | None = None, provider: str | None = None, model: str | None = None,
                  base_url: list[str] | None = None, **other: Any) -> Settings:
    """Settings with the command line's flags on top (CLI > env > scireflect.toml > defaults)."""
    extra: dict[str, Any] = {}
    if base_url:
        extra["base_url"] = base_url[0]
        extra["base_urls"] = list(base_url[1:])
    return load_settings(home=home, provider=provider, model=model, **extra, **other)


def cli_errors(fn: F) -> F:
    """Turn ScireflectError into one line on stderr and the error's exit code (tracebacks with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug") or os.environ.get("SCIREFLECT_DEBUG") == "1"
        try:
            return fn(*args, **kwargs)
        except ScireflectError as e:
            if debug:
                raise
            err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def setup_logging(settings: Settings, name: str = "scireflect") -> None:
    """Log to ``HOME/logs/NAME.log``; the terminal only shows warnings through rich."""
    logfile = settings.path("logs", f"{name}.log")
    root = logging.getLogger("scireflect")
    if not any(isinstance(h, logging.FileHandler) and getattr(h, "baseFilename", "") == str(logfile.resolve())
               for h in root.handlers):
        h = logging.FileHandler(logfile)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(h)
    root.setLevel(logging.INFO)
