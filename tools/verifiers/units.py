"""Quantities with units: LaTeX/plain-text unit notation turned into pint units (runs in pool workers).

``split_quantity`` separates the value from the unit text of an answer such as
``6.02\\times10^{23}\\ \\text{mol}^{-1}``, ``25\\ ^\\circ\\mathrm{C}``, ``\\SI{9.81}{\\metre\\per\\second\\squared}``
or ``3 meters per second``; ``parse_unit`` maps the unit text onto pint's registry (token by token, with
aliases for common spellings, so no arbitrary string reaches pint's own expression evaluator).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from scireflect.tools.verifiers.numparse import SCALE_WORDS, superscripts

_TEXT_MACROS = re.compile(r"\\(?:mathrm|text|textnormal|textrm|mbox|operatorname|mathit|textit|rm|unit|si)\s*\{")
_SI_MACRO = re.compile(r"\\SI\s*\{([^{}]*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_SIUNITX = {
    "metre": "m", "meter": "m", "second": "s", "gram": "g", "kilogram": "kg", "kelvin": "K", "mole": "mol",
    "ampere": "A", "newton": "N", "joule": "J", "watt": "W", "pascal": "Pa", "hertz": "Hz", "volt": "V",
    "coulomb": "C", "ohm": "ohm", "litre": "L", "liter": "L", "electronvolt": "eV", "degreeCelsius": "degC",
    "kilo": "k", "mega": "M", "giga": "G", "milli": "m", "micro": "µ", "nano": "n", "pico": "p", "centi": "c",
    "minute": "min", "hour": "h", "day": "day", "radian": "rad", "degree": "deg", "angstrom": "Å",
    "tesla": "T", "farad": "F", "henry": "H", "siemens": "S", "becquerel": "Bq", "bar": "bar", "atm": "atm",
}
_SI_PREFIXES = {"kilo", "mega", "giga", "milli", "micro", "nano", "pico", "centi"}
_ALIASES = {
    "AU": "au", "KJ": "kJ", "Kg": "kg", "KW": "kW", "Kcal": "kcal", "kcals": "kcal", "cals": "cal",
    "sec": "s", "secs": "s", "hr": "h", "hrs": "h", "mins": "min", "yrs": "yr", "Ohm": "ohm", "ohms": "ohm",
    "°": "deg", "deg": "deg", "degrees": "deg", "degree": "deg", "liters": "L", "litres": "L", "litre": "L",
    "cc": "cm**3", "amu": "u", "Angstrom": "Å", "angstroms": "Å", "Å": "Å", "K": "K",
}
# Single letters that pint knows but that in an answer are far more often words or variables.
_DENY = {"a", "b", "c", "d", "e", "f", "i", "j", "k", "l", "n", "o", "p", "q", "r", "t", "v", "w", "x", "y", "z",
         "and", "or", "is", "the", "of", "per", "to", "at", "it", "pi", "as", "an", "by", "for", "on"}
_VALUE = re.compile(
    r"^\s*(?P<v>[-+]?\s*(?:"
    r"\\[dtc]?frac\s*\{[^{}]*\}\s*\{[^{}]*\}"
    r"|(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:\s*(?:[eE][-+]?\d+(?![\w])|(?:\\times|\\cdot|×|x|\*)\s*10\s*(?:\^|\*\*)\s*"
    r"(?:\{\s*[-+]?\s*\d+\s*\}|[-+]?\d+)))?"
    r"|10\s*\^\s*(?:\{\s*[-+]?\d+\s*\}|[-+]?\d+)"
    r"))(?P<rest>.*)$", re.S)


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=False, cache_folder=None)


def _strip_macro_braces(s: str) -> str:
    """``\\mathrm{kJ\\,mol^{-1}}`` -> ``kJ\\,mol^{-1}`` (innermost first, nested braces kept balanced)."""
    for _ in range(20):
        m = _TEXT_MACROS.search(s)
        if not m:
            return s
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[i], 0)
            i += 1
        s = s[:m.start()] + " " + s[m.end():i - 1] + " " + s[i:]
    return s


def _siunitx(s: str) -> str:
    def unit(body: str) -> str:
        out, pending_per, prefix_pending = [], False, False
        for tok in re.findall(r"\\(\w+)|([^\\\s]+)", body):
            name = tok[0] or tok[1]
            if name == "per":
                pending_per = True
                continue
            if name in ("squared", "cubed"):
                if out:
                    out[-1] += "^2" if name == "squared" else "^3"
                continue
            sym = _SIUNITX.get(name, name)
            if prefix_pending:
                out[-1] += sym
            else:
                out.append(("/" if pending_per else "") + sym)
                pending_per = False
            prefix_pending = name in _SI_PREFIXES
        return " ".join(out).replace(" /", "/")

    return _SI_MACRO.sub(lambda m: f"{m.group(1)} {unit(m.group(2))}", s)


def normalize(text: str) -> str:
    """A quantity's text in one plain spelling: ``25\\ ^\\circ\\mathrm{C}`` -> ``25 degC``."""
    s = superscripts(text).replace("−", "-").replace("·", " * ").replace("⋅", " * ")
    s = re.sub(r"^\s*\$+|\$+\s*$", "", s.strip())
    s = s.replace("$", " ")
    s = _siunitx(s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("{,}", ",").replace(",\\!", ",")
    s = re.sub(r"\\mathring\s*\{?\s*A\s*\}?|\\AA\b|\\r\{A\}", "Å", s)
    s = re.sub(r"\{\s*\}\s*\^", "^", s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°|º", " deg ", s)
    s = _strip_macro_braces(s)
    s = re.sub(r"\\mu\s*", "µ", s).replace("μ", "µ")
    s = re.sub(r"\\Omega", "Ω", s)
    s = re.sub(r"\\[,;:>]|\\ |~|\\quad|\\qquad", " ", s)
    s = re.sub(r"\bdeg\s+C\b", "degC", s)
    s = re.sub(r"\bdeg\s+F\b", "degF", s)
    s = re.sub(r"µ\s+(?=[A-Za-zΩ])", "µ", s)
    return re.sub(r"\s+", " ", s).strip()


@dataclass
class SplitQuantity:
    value: str
    unit: str


def split_quantity(text: str) -> SplitQuantity | None:
    """Value text and unit text of a normalized quantity; None when it does not start with a number."""
    s = normalize(text)
    s = re.sub(r"^(?:[A-Za-z]\w{0,3}(?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*(?:=|\\approx|≈)\s*(?=[-+\d.\\])", "", s)
    m = _VALUE.match(s)
    if not m:
        return None
    unit = m.group("rest").strip().rstrip(".").strip()
    return SplitQuantity(m.group("v").strip(), unit)


def _tokens_to_pint(unit: str) -> str | None:
    """Unit text -> a pint unit expression built only from known unit names, ``*``, ``/``, ``**`` and
    parentheses; None when some token is not a unit."""
    s = unit.replace("\\cdot", "*").replace("\\times", "*").replace("×", "*")
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = re.sub(r"\bper\b", "/", s)
    s = re.sub(r"\bsquare\s+(\w+)", r"\1^2", s)
    s = re.sub(r"\bcubic\s+(\w+)", r"\1^3", s)
    s = re.sub(r"\^\s*\{\s*([-+]?\s*\d+(?:\.\d+)?)\s*\}|\^\s*\(\s*([-+]?\d+)\s*\)|\^\s*([-+]?\d+)",
               lambda m: "**" + (m.group(1) or m.group(2) or m.group(3)).replace(" ", ""), s)
    s = s.replace("{", " ").replace("}", " ").replace("\\", " ")
    out: list[str] = []
    prev_operand = False  # juxtaposed units multiply: "kg m s^-2" -> kg * m * s**-2
    for tok in re.findall(r"\*\*-?\d+(?:\.\d+)?|[A-Za-zµΩÅ°]+|[*/()]|\S", s):
        if tok.startswith("**"):
            if not prev_operand:
                return None
            out.append(tok)
        elif tok in ("*", "/"):
            out.append(tok)
            prev_operand = False
        elif tok == "(":
            out.extend(["*", "("] if prev_operand else ["("])
            prev_operand = False
        elif tok == ")":
            out.append(")")
            prev_operand = True
        elif re.fullmatch(r"[A-Za-zµΩÅ°]+", tok):
            name = _resolve_cached(tok)
            if name is None:
                return None
            out.extend(["*", name] if prev_operand else [name])
            prev_operand = True
        else:
            return None
    if not out:
        return None
    return "".join(out)


def _known(name: str, ureg: Any) -> bool:
    if name in _DENY:
        return False
    try:
        ureg.parse_units(name)
        return True
    except Exception:  # noqa: BLE001 - pint raises several types for unknown names
        return False


@functools.lru_cache(maxsize=4096)
def _resolve_cached(tok: str) -> str | None:
    ureg = registry()
    tok = _ALIASES.get(tok, tok)
    if _known(tok, ureg):
        return tok
    # Concatenated symbols as SciBench writes them: "JK" = J*K, "Nm" = N*m.
    for i in range(1, len(tok)):
        a, b = tok[:i], tok[i:]
        if len(a) <= 3 and len(b) <= 3 and _known(a, ureg) and _known(b, ureg) and len(a + b) <= 4:
            return f"{a}*{b}"
    return None


def parse_unit(unit_text: str) -> Any | None:
    """pint ``Unit`` for the unit text, or None when it is not (entirely) a unit."""
    if not unit_text or len(unit_text) > 120:
        return None
    if re.search(r"\\(?!cdot\b|times\b|frac\b)[A-Za-z]+", unit_text):
        return None  # "\pi", "\sqrt": maths, not a unit
    if re.match(r"^\s*/", unit_text):  # "6.022e23 /mol"
        unit_text = unit_text.strip()[1:]
        expr = _tokens_to_pint(unit_text)
        expr = f"1/({expr})" if expr else None
    elif re.search(r"[A-Za-z]{2,}\s+in\b|\bin\s+[A-Za-z]{2,}", unit_text):
        return None  # "in" inside a phrase is the preposition, not inches
    else:
        expr = _tokens_to_pint(unit_text)
    if expr is None:
        return None
    try:
        units = registry().parse_units(expr)
    except Exception:  # noqa: BLE001
        return None
    return units


def scale_word(unit_text: str) -> tuple[int, str]:
    """``million years`` -> (10**6, ``years``)."""
    m = re.match(r"^(thousand|million|billion|trillion)\b\s*", unit_text, re.IGNORECASE)
    if not m:
        return 1, unit_text
    return SCALE_WORDS[m.group(1).lower()], unit_text[m.end():]


def is_temperature(units: Any) -> bool:
    return str(units) in ("degree_Celsius", "degree_Fahrenheit", "kelvin", "degree_Rankine")


def to_kelvin_or_base(value: float, units: Any) -> tuple[float, Any]:
    """Magnitude in base units (kelvin for temperatures, offsets applied) and the dimensionality."""
    ureg = registry()
    q = ureg.Quantity(value, units)
    if is_temperature(units):
        return float(q.to("kelvin").magnitude), q.dimensionality
    base = q.to_base_units()
    return float(base.magnitude), q.dimensionality
