"""Options of the ``answer`` verifier: every rule of the answer-equivalence README can be changed.

Defaults are the README's rules. Precedence when the graph builds them: a question's own ``tolerance``
(applies to every gold) > the verifier options passed in (e.g. ``{"answer": {"rel_tol": 0.05}}``) >
these defaults. ``preset="scibench"`` reproduces SciBench's own grading (5% relative, units stripped).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from scireflect.errors import VerifierError

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # SciBench's eval: math.isclose(rel_tol=0.05) on the numbers, units stripped.
    "scibench": {"rel_tol": 0.05, "tolerance": 0.05, "units": False},
    # Strict: exact golds and 1% decimals, but a bare number never borrows the gold's unit.
    "strict_units": {"bare_number_in_gold_unit": False},
}


@dataclass
class AnswerOptions:
    rel_tol: float = 0.01
    """Rule 1: relative tolerance for a gold written as a decimal (decimal point or scientific notation)."""
    exact_rel_tol: float = 1e-6
    """Rule 2: an exact (integer/fraction) gold against a decimal approximation: floating-point noise only."""
    zero_abs_tol: float = 1e-12
    """Rule 2: absolute tolerance when the gold is zero."""
    tolerance: float | None = None
    """A per-problem relative tolerance that applies to every gold, exact ones included."""
    exact_golds: bool = True
    """Rule 2 on/off: when off, exact golds also get ``rel_tol``."""
    units: bool = True
    """Rule 3: convert units with pint and check dimensions; off: units are stripped (SciBench style)."""
    temperature_offsets: bool = True
    """Rule 4: °C/°F/K converted with their offsets, relative error on the kelvin scale."""
    bare_number_in_gold_unit: bool = True
    """Rule 5: a pred without a unit is read in the gold's unit; off: it is a dimension mismatch."""
    ignore_pred_unit_if_gold_unitless: bool = True
    """Rule 6: a gold without a unit compares magnitudes only; off: a pred unit makes it unequal."""
    percent_as_fraction: bool = True
    """Percent: against a gold with %, 0.28 equals 28%; against a gold 0.28, 28% equals it too."""
    choices: list[str] | None = None
    """Multiple choice: the option texts (A, B, ... in order); a gold may be a letter or an option text."""
    multiple_choice: str = "auto"
    """auto: letter golds are compared as choices; on: always; off: never."""
    decimal_comma: bool = True
    """Read ``2,74`` as 2.74 when the other side is a decimal number (never for lists like ``-2,1``)."""
    math_verify: bool = True
    """Use math-verify for symbolic answers (off: numbers, units and choices only)."""
    timeout_s: float = 5.0
    """Wall-clock limit of one check; the worker is killed and replaced when it is exceeded."""
    max_chars: int = 200_000
    """Longer pred or gold texts are refused (``too_large``) without parsing."""
    max_answer_chars: int = 20_000
    """Longer extracted answers are refused (``too_large``)."""
    screen: bool = True
    """Refuse answers containing Python-like code (``__``, ``lambda x:``, ``import``) before any parsing."""
    preset: str | None = None
    """A named bundle of the options above: ``default``, ``scibench``, ``strict_units``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, **options: Any) -> "AnswerOptions":
        """From keyword options; unknown names are a configuration error."""
        options = {k: v for k, v in options.items() if v is not None or k in ("tolerance", "choices")}
        preset = options.pop("preset", None)
        base: dict[str, Any] = {}
        if preset is not None:
            if not isinstance(preset, str) or preset not in PRESETS:
                raise VerifierError(f"unknown answer preset {preset!r}; choose from {', '.join(PRESETS)}")
            base.update(PRESETS[preset])
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "preset"}
        unknown = sorted(set(options) - names)
        if unknown:
            raise VerifierError(f"unknown answer option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        base.update(options)
        hints = _field_types(cls)
        checked = {name: coerce_option("answer", name, value, hints[name], **_LIMITS.get(name, {}))
                   for name, value in base.items()}
        opts = cls(**checked, preset=preset)
        if opts.multiple_choice not in ("auto", "on", "off"):
            raise VerifierError("answer option multiple_choice: expected auto, on or off, "
                                f"got {_shown(opts.multiple_choice)}")
        return opts

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Bounds beyond the type: every number is finite and non-negative; these are stricter. A check has to end
# (timeout_s > 0, at most an hour) and the size limits have to let at least one character through.
_LIMITS: dict[str, dict[str, float]] = {
    "timeout_s": {"above": 0.0, "most": 3600.0},
    "max_chars": {"least": 1},
    "max_answer_chars": {"least": 1},
}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@functools.lru_cache(maxsize=None)
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_option(verifier: str, name: str, value: Any, hint: Any, *, least: float = 0.0,
                  above: float | None = None, most: float | None = None) -> Any:
    """``value`` as the type ``hint`` says (float, int, bool, str, list[str], optionally None), coerced
    where nothing is lost (``"0.05"`` -> 0.05, ``"false"`` -> False, ``2.0`` -> 2); numbers finite and within
    the bounds. Anything else is a VerifierError naming the option: the CLI prints it as one line."""
    where = f"{verifier} option {name}"
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    if args and type(None) in args:
        if value is None:
            return None
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
    if hint is bool:
        return _as_bool(where, value)
    if hint is int or hint is float:
        number = _as_number(where, value, whole=hint is int)
        if number < least or (above is not None and number <= above) or (most is not None and number > most):
            bounds = [f"> {above:g}" if above is not None else f">= {least:g}"] + ([f"<= {most:g}"] if most else [])
            raise VerifierError(f"{where}: must be {' and '.join(bounds)}, got {_shown(value)}")
        return number
    if hint is str:
        if isinstance(value, bool):  # JSON true/false for an on/off/auto setting
            return "on" if value else "off"
        if not isinstance(value, str):
            raise VerifierError(f"{where}: expected text, got {_shown(value)}")
        return value
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or len(value) > 1000:
            raise VerifierError(f"{where}: expected a JSON list of texts, got {_shown(value)}")
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            raise VerifierError(f"{where}: expected a JSON list of texts, got {_shown(value)}")
        return [str(v) for v in value]
    return value  # a type this module does not constrain (a plugin's extra field)


def _as_bool(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise VerifierError(f"{where}: expected true or false, got {_shown(value)}")


def _as_number(where: str, value: Any, *, whole: bool) -> Any:
    kind = "a whole number" if whole else "a number"
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip()) if len(value) <= 40 else None
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise VerifierError(f"{where}: expected {kind}, got {_shown(value)}")
    if not math.isfinite(number):
        raise VerifierError(f"{where}: expected a finite number, got {_shown(value)}")
    if whole:
        if isinstance(number, float) and not number.is_integer():
            raise VerifierError(f"{where}: expected {kind}, got {_shown(value)}")
        return int(number)
    return float(number)
