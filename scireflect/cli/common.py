"""Shared CLI plumbing: common options, settings from flags, one-line errors with exit codes.

Text that comes from users, models, verifiers or stores goes through ``escape()`` (or ``markup=False``)
before Rich prints it: Rich reads ``[length]`` or ``[chemistry]`` as markup tags and drops them.
"""

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
from rich.markup import escape

from scireflect.errors import ScireflectError
from scireflect.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

# A noun as metavar for repeatable options: typer would show <list[str]> in help.
HomeOpt = Annotated[Optional[Path], typer.Option("--home", metavar="DIR",
                                                 help="workspace directory [env: SCIREFLECT_HOME]")]
ProviderOpt = Annotated[Optional[str], typer.Option("--provider", help="llamacpp | openai")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="GGUF path (llamacpp) or model name (openai)")]
BaseUrlOpt = Annotated[Optional[list[str]], typer.Option(
    "--base-url", metavar="URL", help="OpenAI-compatible endpoint; repeat for round-robin")]
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
            err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_rows(headers: list[str], rows: list[list[str]], flex: int | None = None, out: Console | None = None) -> None:
    """Aligned columns for lists of ids, which people copy into the next command: no cell is wrapped or cut
    (a Rich table folds or ellipsises its widest columns to fit 80 columns) except column ``flex``, which
    is cut with '…' to what a terminal has left. Piped output is never cut; lines longer than a terminal
    are left to the terminal. Printed without markup, so bracketed text stays."""
    out = out or console
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if flex is not None and out.is_terminal:
        rest = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(widths) - 1)
        widths[flex] = min(widths[flex], max(out.width - rest, len(headers[flex]), 12))

    def line(cells: list[str]) -> str:
        fitted = [c if len(c) <= w else c[:w - 1] + "…" for c, w in zip(cells, widths)]
        return "  ".join(c.ljust(w) for c, w in zip(fitted, widths)).rstrip()

    out.print(line(headers), style="bold", markup=False, highlight=False, soft_wrap=True)
    for r in rows:
        out.print(line(r), markup=False, highlight=False, soft_wrap=True)


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
