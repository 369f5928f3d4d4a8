"""``scireflect verify`` (one answer against a reference) and ``scireflect verifiers list``."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import DebugOpt, JsonOpt, cli_errors, console, print_json
from scireflect.errors import VerifierError

verifiers_app = typer.Typer(help="Installed verifiers (built-in and plugins).", no_args_is_help=True)
app.add_typer(verifiers_app, name="verifiers")


# The steps verifier reads these with float()/int()/bool() only when it checks (tools/verifiers/steps.py): a
# bad value would become an error verdict (or bool("false") -> True), so the command line checks them first.
_STEPS_OPTIONS: dict[str, tuple[type, dict[str, float]]] = {
    "rel_tol": (float, {}), "approx_rel_tol": (float, {}), "timeout_s": (float, {"above": 0.0, "most": 3600.0}),
    "max_claims": (int, {"least": 1}), "require_steps": (bool, {}),
}


def _checked_options(verifier_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``-o`` options with each value checked (and coerced) for the built-in verifiers that take them;
    a bad name or value is a VerifierError naming the option. Plugins' options pass through unchecked."""
    from scireflect.tools.verifiers.options import AnswerOptions, coerce_option

    if verifier_name == "answer":
        AnswerOptions.build(**options)  # unknown option names are a usage error here, not ignored
        return options
    if verifier_name == "steps":
        unknown = sorted(set(options) - set(_STEPS_OPTIONS))
        if unknown:
            raise VerifierError(f"unknown steps option(s) {', '.join(unknown)}; known: {', '.join(_STEPS_OPTIONS)}")
        return {k: coerce_option("steps", k, v, _STEPS_OPTIONS[k][0], **_STEPS_OPTIONS[k][1])
                for k, v in options.items()}
    return options


def _question_error(e: ValueError) -> VerifierError:
    """pydantic's several-line report as one line."""
    errors = e.errors() if hasattr(e, "errors") else []
    parts = [f"{'.'.join(str(x) for x in err['loc']) or 'question'}: {err['msg']}" for err in errors[:3]]
    return VerifierError(f"invalid question: {'; '.join(parts) or str(e).splitlines()[0]}")


def _parse_options(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise VerifierError(f"--option {pair!r}: expected KEY=VALUE")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@app.command("verify")
@cli_errors
def verify_cmd(pred: Annotated[str, typer.Option("--pred", help="the answer (or whole solution) to check")],
               gold: Annotated[str, typer.Option("--gold", help="the reference answer (lean: the theorem statement)")],
               verifier_name: Annotated[str, typer.Option("--verifier", help="verifier name, see "
                                                          "`scireflect verifiers list`")] = "answer",
               qtype: Annotated[Optional[str], typer.Option("--type", help="question type: numeric | symbolic | "
                                                            "multiple_choice | proof | free")] = None,
               tolerance: Annotated[Optional[float], typer.Option("--tolerance", help="relative tolerance "
                                                                  "for every gold")] = None,
               option: Annotated[Optional[list[str]], typer.Option(
                   "--option", "-o", metavar="KEY=VALUE", help="verifier option (JSON values), repeatable")] = None,
               as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Check PRED against GOLD. Exit 0 when equal, 1 when not, 2 on bad usage."""
    from scireflect.schema import Attempt, Question
    from scireflect.tools.verifiers import default_registry

    registry = default_registry()
    cls = registry.get(verifier_name)
    options = _checked_options(verifier_name, _parse_options(option))
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
        raise VerifierError(f"--tolerance: expected a finite number >= 0, got {tolerance:g}")
    qt = qtype or ("proof" if "proof" in cls.types else cls.types[0] if cls.types else "free")
    try:
        question = Question(id="cli", question="(command line)", answer=gold, type=qt, tolerance=tolerance,
                            lean_statement=gold if qt == "proof" else None)
    except ValueError as e:
        raise _question_error(e) from None
    v = cls(**options)
    verdict = v.verify(question, Attempt(stage="cot", solution=pred))
    if as_json:
        print_json(verdict.model_dump())
    else:
        style = "green" if verdict.ok else "red"
        console.print(f"[{style}]{'equal' if verdict.ok else 'not equal'}[/{style}] ({escape(verdict.reason)}) "
                      f"{escape(verdict.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if verdict.ok else 1)


@verifiers_app.command("list")
@cli_errors
def list_cmd(as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Verifier names, where they come from, and the question types they check."""
    from scireflect.tools.verifiers import default_registry

    registry = default_registry()
    rows = [{"name": n, "origin": registry.origin(n), "types": list(registry.get(n).types),
             "description": registry.get(n).description} for n in registry.names()]
    if as_json:
        print_json({"verifiers": rows, "load_errors": registry.load_errors})
        return
    table = Table("name", "origin", "types", "description")
    for r in rows:
        table.add_row(*(escape(x) for x in (r["name"], r["origin"], ", ".join(r["types"]), r["description"])))
    console.print(table)
    for name, err in registry.load_errors.items():
        console.print(f"[yellow]plugin {escape(name)} failed to load:[/yellow] {escape(err)}", highlight=False)
