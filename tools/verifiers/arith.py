"""A small, closed evaluator for numeric claims such as ``120/2``, ``3 \\times 4``, ``\\frac{1}{2}(3)^2``,
``120 m / 4.0 s`` or ``\\left(1.0 \\times 10^5 \\mathrm{~Pa}\\right) \\times\\left(100 \\mathrm{~g} \\mathrm{~mol}^{-1}\\right)``
(runs in pool workers).

It understands numbers, ``+ - * / ^ !``, ``\\times``, ``\\cdot``, parentheses, ``\\frac``, ``\\sqrt``, ``\\binom``,
``\\pi``, ``e^{x}``, ``\\exp``, ``\\ln``, ``\\log``, trigonometric functions and, when asked, units (as pint
quantities). A number followed by its unit is one quantity and binds tighter than ``/`` and ``\\times``
(``120 m / 4.0 s`` is (120 m)/(4.0 s)); after a ``/`` inside a unit, the following units stay in the
denominator (``m^3 / kg \\cdot s^2``). Every value carries the uncertainty its written digits imply
(``0.41`` is 0.41 ± 0.005), propagated to first order, so a rounded intermediate result is not mistaken
for an error. Anything else raises :class:`NotArithmetic`: the caller then treats the claim as unchecked.
No Python evaluation is involved; exponents, factorials, nesting and length are bounded.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from scireflect.tools.verifiers import arith_values as values
from scireflect.tools.verifiers import numparse
from scireflect.tools.verifiers.arith_values import NotArithmetic, Val, is_offset  # noqa: F401 - re-exported

MAX_TOKENS = 800
MAX_DEPTH = 40
MAX_LITERAL_EXPONENT = 300  # 1e300: still a float



@dataclass(frozen=True)
class Tok:
    kind: str  # num | cmd | word | op
    val: str
    upright: bool = False  # inside \mathrm{}/\text{}: a unit or a label, never an italic variable
    truncated: bool = False  # "2.83\ldots": more digits follow



@dataclass
class Info:
    """What the caller needs to judge a claim besides the value."""

    inexact: bool = False  # a decimal, pi, a root or a function: compare with a tolerance
    used_units: bool = False
    ambiguous_units: list[str] = field(default_factory=list)  # a unit that may be a variable or misread
    ambiguous_division: bool = False  # "10 / 32 lb": (10/32) lb or 10/(32 lb)?
    percent: bool = False
    bare_angle: bool = False  # \sin 30: radians or degrees?
    log_base: bool = False  # \log 8: base 10 or e?
    literals: int = 0
    ops: int = 0
    rounding: float = 0.0  # a lone value's rounding to its last written digit ("= 475 m/s", "= 0.41")
    unit_one: bool = False  # "1 J": the side of a unit conversion note


_SPACES = re.compile(r"\\[,;: ]|~|\\q?quad\b|\\thinspace\b|\\enspace\b|\\displaystyle\b|\\limits\b|\\nolimits\b"
                     r"|\\(?:tag|label)\s*\{[^{}]*\}|\\nonumber\b|\\notag\b")
_DELIMS = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)\b\s*")
_UPRIGHT_MACROS = ("mathrm", "text", "textrm", "rm", "operatorname", "mbox", "mathbf", "boldsymbol", "textbf",
                   "mathsf", "textnormal", "textup", "bf")
_ELLIPSIS = ("\\ldots", "\\cdots", "\\dots")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![A-Za-z]))?)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<word>[A-Za-zµμΩÅ]+)"
    r"|(?P<op>[-+*/^(){}\[\]·×÷!%]))")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,])")
# Units whose size depends on a convention (US/imperial gallon, short/metric ton, ...): a claim that
# disagrees through them is not judged.
CONVENTION_UNITS = {"ton", "gal", "gallon", "gallons", "hp", "horsepower", "oz", "ounce", "pint", "pt", "quart",
                     "qt", "cup", "cups", "tbsp", "tsp", "bbl", "barrel", "month", "months", "lb", "lbs", "tons",
                     "Cal"}
_ALIASES = {"rev": "revolution", "revs": "revolution", "Ohm": "ohm", "deg": "degree", "µ": None, "μ": None}
_FUNCS = {"\\sin", "\\cos", "\\tan", "\\sec", "\\csc", "\\cot", "\\arcsin", "\\arccos", "\\arctan", "\\sinh",
          "\\cosh", "\\tanh", "\\ln", "\\log", "\\exp", "\\lg", "\\lb"}
_TRIG = {"\\sin", "\\cos", "\\tan", "\\sec", "\\csc", "\\cot"}
_MUL_OPS = ("*", "·", "×", "\\times", "\\cdot", "\\ast")
_DIV_OPS = ("/", "÷", "\\div")


def _normalize(text: str) -> str:
    s = numparse.superscripts(text).replace("−", "-").replace("⋅", "·")
    if re.search(r"\\(?:left|right|[bB]igg?[lr]?)\s*\.", s):
        raise NotArithmetic("half-open delimiter")  # "\left. ... \right)": the rest is in another segment
    s = s.replace("\\$", " ").replace("\\!", "")  # a negative thin space: "12,\\!000" is 12,000
    s = s.replace("\\{", "(").replace("\\}", ")").replace("\\lbrace", "(").replace("\\rbrace", ")")
    s = _DELIMS.sub("", s)
    s = re.sub(r"\\(?:boxed|fbox|displaystyle|textstyle)\b", " ", s)  # "\\boxed{12}" is the group {12}
    s = re.sub(r"\\log_\s*\{?\s*10\s*\}?", r"\\lg ", s)  # \log_{10}; other bases stay and are refused ("_")
    s = re.sub(r"\\log_\s*\{?\s*e\s*\}?(?![a-zA-Z])", r"\\ln ", s)
    s = re.sub(r"\\log_\s*\{?\s*2\s*\}?", r"\\lb ", s)
    s = _SPACES.sub(" ", s)
    s = re.sub(r"\{\s*\}", " ", s)  # "\mathrm{~cm}{ }^3": the empty group only carries the exponent
    s = re.sub(r"\\[dt]?frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)  # \frac12
    s = re.sub(r"(?<=\d)\{,\}(?=\d{3}(?!\d))", "", s)
    s = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), s)
    s = re.sub(r"(\d)\s+\.(?![\d.])", r"\1.", s)  # "400 . K": a decimal point that marks significance
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ\b|\\circ\b|°|º|\\degree\b", r" \\mathrm{deg} ", s)
    s = re.sub(r"\\mathring\s*\{\s*\\?(?:mathrm\s*\{\s*)?A\s*\}?\s*\}|\\AA\b", r" \\mathrm{Å} ", s)
    s = s.replace("\\%", "%").replace("\\Omega", " \\mathrm{Ω} ").replace("\\ohm", " \\mathrm{Ω} ")
    s = s.replace("π", " \\pi ")
    s = re.sub(r"(?<![\\A-Za-z])(sin|cos|tan|ln|log|exp|sqrt)\s*(?=\()", r"\\\1", s)  # plain "cos(30°)"
    return _radicals(s)


def _radicals(s: str) -> str:
    """Plain-text roots: ``√2`` -> ``\\sqrt{2}``, ``√(8 × 9.8)`` -> ``\\sqrt{(8 × 9.8)}``; any other ``√`` stays
    and is refused by the tokenizer."""
    s = re.sub(r"√\s*(\d+(?:\.\d+)?)", r"\\sqrt{\1}", s)
    for _ in range(20):
        m = re.search(r"√\s*\(", s)
        if not m:
            return s
        depth, j = 0, m.end() - 1
        while j < len(s):
            depth += {"(": 1, ")": -1}.get(s[j], 0)
            if depth == 0:
                break
            j += 1
        if depth:
            raise NotArithmetic("unbalanced root")
        s = s[:m.start()] + "\\sqrt{" + s[m.end() - 1:j + 1] + "}" + s[j + 1:]
    return s


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    s = re.sub(r"(?<=[\s}])\.\s*$", "", _normalize(text))  # a sentence's full stop, not "400." (significance)
    _scan(s, False, out, 0)
    return _merge(out)


def _scan(s: str, upright: bool, out: list[Tok], depth: int) -> None:
    if depth > 4:
        raise NotArithmetic("nested text macros")
    pos = 0
    while pos < len(s):
        if s[pos:].strip() == "":
            return
        m = _TOKEN.match(s, pos)
        if not m:
            raise NotArithmetic(f"unexpected {s[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        val = m.group(kind)
        pos = m.end()
        if kind == "cmd" and val[1:] in _UPRIGHT_MACROS:
            body, pos = _braced(s, pos)
            if body is None:  # "{\rm kg}": the old switch, dropped
                continue
            _scan(body, True, out, depth + 1)
            continue
        if kind == "cmd" and val in _ELLIPSIS:
            if not out or out[-1].kind != "num":
                raise NotArithmetic("ellipsis")  # "1 + x + \cdots": a series, not a value
            out[-1] = Tok("num", out[-1].val, out[-1].upright, truncated=True)
            continue
        if kind == "cmd" and val in ("\\mu", "\\micro"):
            nxt = _TOKEN.match(s, pos)
            if nxt and nxt.lastgroup == "word":  # "\mu m" -> µm
                out.append(Tok("word", "µ" + nxt.group("word"), upright))
                pos = nxt.end()
                continue
            if nxt and nxt.lastgroup == "cmd" and nxt.group("cmd")[1:] in _UPRIGHT_MACROS:
                body, end = _braced(s, nxt.end())
                if body is not None and re.fullmatch(r"\s*~?\s*[A-Za-z]+\s*", body):
                    out.append(Tok("word", "µ" + body.strip(" ~"), True))
                    pos = end
                    continue
        if kind == "word" and "μ" in val:
            val = val.replace("μ", "µ")
        out.append(Tok(kind, val, upright))
        if len(out) > MAX_TOKENS:
            raise NotArithmetic("too long")


def _braced(s: str, pos: int) -> tuple[str | None, int]:
    """Content of the brace group starting at ``pos`` (after spaces) and the position after it."""
    i = pos
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s) or s[i] != "{":
        return None, pos
    depth, j = 0, i
    while j < len(s):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return s[i + 1:j], j + 1
        j += 1
    raise NotArithmetic("unbalanced braces")


def _merge(toks: list[Tok]) -> list[Tok]:
    """``deg`` + ``C`` -> ``degC``; drops the ``~`` spacing words left empty by macros."""
    out: list[Tok] = []
    for t in toks:
        if out and t.kind == "word" and t.val in ("C", "F") and out[-1].kind == "word" and out[-1].val == "deg":
            out[-1] = Tok("word", "deg" + t.val, True)
            continue
        out.append(t)
    return out


# ---------------------------------------------------------------------------------------------- units

@functools.lru_cache(maxsize=4096)
def _direct_unit(name: str) -> Any | None:
    from scireflect.tools.verifiers import units

    alias = _ALIASES.get(name, name)
    if alias is None or "*" in alias:
        return None
    u = units.parse_unit(alias)
    if u is None:
        return None
    if len(name) > 1 and re.fullmatch(r"[A-Za-z]+", name) and _is_product(name, u):
        return None  # parse_unit split it ("Js" -> J*s); the caller splits it itself, with its exponent
    return u


def _is_product(name: str, u: Any) -> bool:
    """Whether ``parse_unit`` read ``name`` as a product of two shorter symbols."""
    return "*" in str(u) and not any(c in name for c in "*/^ ")


def _same(u: Any, v: Any) -> bool:
    from scireflect.tools.verifiers import units

    ureg = units.registry()
    try:
        a, b = ureg.Quantity(1.0, u).to_base_units(), ureg.Quantity(1.0, v).to_base_units()
    except Exception:  # noqa: BLE001 - pint raises several types
        return False
    return a.dimensionality == b.dimensionality and math.isclose(a.magnitude, b.magnitude, rel_tol=1e-9)


# Symbols a run-together unit such as "Jm", "Cmol", "kAm" or "Pabar" may be made of. Only these: pint also
# reads odd prefix combinations ("de" + "g" = decielementary-charge gram) that nobody writes.
_COMMON = set("""m s g kg K A mol N J W Pa V C Ω Hz T H S F L eV bar atm min h hr mL cm mm km nm pm µm fm Å kJ MJ
kW MW kPa MPa GPa kN mg µg ms µs ns kV mV mA kA kHz MHz GHz Da u amu rad sr lb ft yr day cal kcal Torr psi dm
Wb lx Bq Gy Sv ppm mmol kmol µmol mbar kcal Gs""".split())


@functools.lru_cache(maxsize=4096)
def resolve_unit(name: str, allow_split: bool) -> tuple[tuple[Any, ...], bool] | None:
    """The units a symbol stands for (one, or two run together as in ``Jm`` = J m) and whether the reading
    is ambiguous (``ms``: millisecond or metre second?). None when it is not a unit."""
    direct = _direct_unit(name)
    splits = []
    if allow_split and 2 <= len(name) <= 8:
        for i in range(1, len(name)):
            if name[:i] in _COMMON and name[i:] in _COMMON:
                a, b = _direct_unit(name[:i]), _direct_unit(name[i:])
                if a is not None and b is not None:
                    splits.append((a, b))
    if direct is not None and (name in _COMMON or not splits):
        return (direct,), bool(splits)
    if not splits:
        return None
    first = splits[0]
    for other in splits[1:]:
        if not (_same(other[0], first[0]) and _same(other[1], first[1])):
            return first, True  # two readings; keep one, say it is unsure
    return first, direct is not None


# --------------------------------------------------------------------------------------------- parser

class _Parser:
    """Recursive descent: sum -> product -> unary -> power -> atom, with implicit multiplication and
    number-unit juxtaposition (a quantity) at the atom level."""

    def __init__(self, tokens: list[Tok], allow_units: bool, plain: bool, degrees: bool, natural_log: bool):
        self.t = tokens
        self.i = 0
        self.allow_units = allow_units
        self.plain = plain  # plain text: bare unit symbols are units; in LaTeX maths they may be variables
        self.degrees = degrees  # read a bare trigonometric argument in degrees
        self.natural_log = natural_log  # read \log as ln (mathematics) rather than log10 (science)
        self.info = Info()
        self.depth = 0

    # -- token helpers
    def peek(self, k: int = 0) -> Tok | None:
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise NotArithmetic("unexpected end")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        if self.take().val != value:
            raise NotArithmetic(f"expected {value!r}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise NotArithmetic("nested too deeply")

    def parse(self) -> Val:
        v = self.sum()
        if self.peek() is not None:
            raise NotArithmetic(f"trailing {self.peek().val!r}")  # type: ignore[union-attr]
        return v

    # -- grammar
    def sum(self) -> Val:
        self._enter()
        v = self.product()
        while (tok := self.peek()) and tok.val in ("+", "-"):
            self.take()
            w = self.product()
            v = values.add(v, w if tok.val == "+" else values.neg(w))
            self.info.ops += 1
        self.depth -= 1
        return v

    def product(self) -> Val:
        v = self.unary()
        while True:
            tok = self.peek()
            if tok and tok.val in _MUL_OPS:
                self.take()
                v = values.mul(v, self.unary())
            elif tok and tok.val in _DIV_OPS:
                self.take()
                w = self.unary()
                if not values.is_q(v.x) and values.is_q(w.x):
                    self.info.ambiguous_division = True
                v = values.div(v, w)
            elif self._starts_implicit(tok):
                v = values.mul(v, self.power())  # implicit: 2(3), (2)(3), 2\pi, \frac{1}{2} 9.8
            else:
                return v
            self.info.ops += 1

    def _starts_implicit(self, tok: Tok | None) -> bool:
        if tok is None:
            return False
        prev = self.t[self.i - 1] if self.i else None
        if tok.kind == "num" and prev is not None and prev.kind == "num":
            raise NotArithmetic("two numbers side by side")  # "2.86 2.50": table cells, "12 000"
        if tok.kind == "num" or tok.val in ("(", "[", "{"):
            return True
        if tok.kind == "word":
            return True  # a unit or e^{..} after a group, else atom() refuses it
        return tok.kind == "cmd" and (tok.val in ("\\frac", "\\dfrac", "\\tfrac", "\\cfrac", "\\sqrt", "\\pi", "\\binom",
                                                  "\\dbinom", "\\tbinom") or tok.val in _FUNCS)

    def unary(self) -> Val:
        tok = self.peek()
        if tok and tok.val in ("-", "+"):
            self.take()
            self._enter()
            v = self.unary()
            self.depth -= 1
            return values.neg(v) if tok.val == "-" else v
        return self.power()

    def power(self) -> Val:
        base = self.atom()
        while (tok := self.peek()) and tok.val in ("^", "!", "%"):
            self.take()
            if tok.val == "!":
                base = values.factorial(base)
            elif tok.val == "%":
                self.info.percent = True
                base = values.div(base, Val(Fraction(100)))
            else:
                base = self.pow(base, self.exponent())
            self.info.ops += 1
        return base

    def pow(self, a: Val, b: Val) -> Val:
        """``a ** b``, noting an inexact result (``\\sqrt{117}``) so the claim gets a tolerance."""
        r = values.power(a, b)
        if not isinstance(r.x, Fraction) and not (isinstance(b.x, Fraction) and b.x.denominator == 1):
            self.info.inexact = True
        return r

    def exponent(self) -> Val:
        """An exponent; its digits are not literals of the value (``1 \\mathrm{J} \\mathrm{m}^{-3}`` is one number)."""
        saved = (self.info.literals, self.info.rounding, self.info.ops, self.info.inexact)
        nxt = self.peek()
        v = self.unary_plain() if nxt and nxt.val in ("-", "+") else self.plain_atom()
        self.info.literals, self.info.rounding, self.info.ops = saved[:3]
        self.info.inexact = saved[3] or not isinstance(v.x, Fraction)
        return v

    def unary_plain(self) -> Val:
        """A signed exponent such as ``^-2``."""
        tok = self.take()
        v = self.plain_atom()
        return values.neg(v) if tok.val == "-" else v

    def plain_atom(self) -> Val:
        """An exponent: a number or a group, without units."""
        tok = self.peek()
        if tok is None:
            raise NotArithmetic("missing exponent")
        if tok.kind == "num":
            self.take()
            return Val(Fraction(tok.val))
        if tok.val == "{":
            self.take()
            v = self.sum()
            self.expect("}")
        else:
            v = self.atom()
        if values.is_q(v.x):
            raise NotArithmetic("quantity exponent")
        return v

    def atom(self) -> Val:
        tok = self.take()
        if tok.kind == "num":
            return self.quantity(self.number(tok))
        if tok.val in ("(", "[", "{"):
            v = self.sum()
            self.expect({"(": ")", "[": "]", "{": "}"}[tok.val])
            return self.after_group(v)
        if tok.val in ("\\frac", "\\dfrac", "\\tfrac", "\\cfrac"):
            num, den = self.group(), self.group()
            if not values.is_q(num.x) and values.is_q(den.x):
                self.info.ambiguous_division = True
            self.info.ops += 1
            return values.div(num, den)
        if tok.val in ("\\binom", "\\dbinom", "\\tbinom"):
            self.info.ops += 1
            return values.binom(self.group(), self.group())
        if tok.val == "\\sqrt":
            self.info.ops += 1
            if self.peek() and self.peek().val == "[":  # type: ignore[union-attr]
                self.take()
                n = self.sum()
                self.expect("]")
                return self.pow(self.group(), values.div(Val(Fraction(1)), n))
            if self.peek() and self.peek().val == "(":  # type: ignore[union-attr]  # plain "sqrt(16)"
                return self.pow(self.atom(), Val(Fraction(1, 2)))
            return self.pow(self.group(), Val(Fraction(1, 2)))
        if tok.val == "\\pi":
            self.info.inexact = True
            return Val(math.pi)
        if tok.val in _FUNCS:
            self.info.ops += 1
            return self.function(tok.val)
        if tok.kind == "word" and tok.val == "e" and self.peek() and self.peek().val == "^":  # type: ignore[union-attr]
            self.take()
            self.info.ops += 1
            self.info.inexact = True
            return values.exp(self.exponent())
        prev = self.t[self.i - 2].val if self.i > 1 else None
        if tok.kind == "word" and self.allow_units and prev is not None and (
                tok.upright or (self.plain and prev in ("(", "/", "*", "·"))):
            # An upright symbol is a unit wherever it stands ("\frac{\mathrm{J}}{\mathrm{m}^3}"); an italic one
            # is a variable unless it follows a number (see quantity), or in plain text a group or an operator
            # inside a unit ("8.314 J/(mol*K)").
            self.i -= 1
            u = self.units()
            if u is None:
                raise NotArithmetic(f"not a unit: {tok.val!r}")
            if not tok.upright:
                self.info.ambiguous_units.append(tok.val)
            return u
        raise NotArithmetic(f"not a number: {tok.val!r}")

    def after_group(self, v: Val) -> Val:
        """An upright unit may follow a group: ``(1.25/28.02) \\mathrm{mol}``."""
        if self.allow_units and (tok := self.peek()) and tok.kind == "word" and (tok.upright or self.plain):
            u = self.units()
            if u is not None:
                return values.mul(v, u)
        return v

    def group(self) -> Val:
        self.expect("{")
        v = self.sum()
        self.expect("}")
        return v

    def number(self, tok: Tok) -> Val:
        """A literal, with ``a \\times 10^{n}`` folded in, and its uncertainty from the written digits."""
        mant = tok.val
        if len(mant) > 60:
            raise NotArithmetic("too many digits")
        exp10 = 0
        m = re.fullmatch(r"([\d.]+)[eE]([-+]?\d+)", mant)
        if m:
            mant, exp10 = m.group(1), int(m.group(2))
        folded = self.sci_tail()
        if folded is not None:
            exp10 += folded
        if abs(exp10) > MAX_LITERAL_EXPONENT:
            raise NotArithmetic("exponent too large")
        value = Fraction(mant) * Fraction(10) ** exp10
        self.info.literals += 1
        if "." in mant or m:
            self.info.inexact = True
        decimals = len(mant.split(".")[1]) if "." in mant else 0
        half_ulp = float(Fraction(10) ** (exp10 - decimals)) / 2
        if "." in mant or m or tok.truncated:
            # A stated value ("= 0.41") stands for all it rounds from, see rounding. Inside a computation a
            # literal counts as exact, unless it has the digits of a measured or carried-forward value (3+
            # significant figures: "7.25e9") or is truncated ("2.83..."); "0.3" or "1.1" there is given data.
            digits = len(mant.replace(".", "").lstrip("0"))
            err = 2 * half_ulp if tok.truncated else (half_ulp if digits >= 3 else 0.0)
            self.info.rounding = max(err, half_ulp)
        else:
            err = 0.0  # an integer is exact ("3 \\times 4 = 12"); a lone one may still be rounded, see rounding
            zeros = len(mant) - len(mant.rstrip("0")) if mant.strip("0") else 0
            self.info.rounding = float(Fraction(10) ** (exp10 + zeros)) / 2
        return Val(value, err)

    def sci_tail(self) -> int | None:
        """``\\times 10^{n}`` after a mantissa: the power n (consumed), or None (nothing consumed)."""
        a, b, c = self.peek(), self.peek(1), self.peek(2)
        if not (a and b and c and a.val in _MUL_OPS and b.kind == "num" and b.val == "10" and c.val == "^"):
            return None
        start = self.i
        self.i += 3
        sign, tok = 1, self.peek()
        braced = tok is not None and tok.val == "{"
        if braced:
            self.take()
            tok = self.peek()
        if tok is not None and tok.val in ("-", "+"):
            sign = -1 if tok.val == "-" else 1
            self.take()
            tok = self.peek()
        if tok is None or tok.kind != "num" or not tok.val.isdigit() or (braced and (self.peek(1) is None or
                                                                                     self.peek(1).val != "}")):
            self.i = start
            return None
        self.take()
        if braced:
            self.take()
        return sign * int(tok.val)

    def quantity(self, number: Val) -> Val:
        """A number and the units written right after it: one quantity (``4.0 s`` in ``120 m / 4.0 s``)."""
        if (tok := self.peek()) and tok.val == "^":  # "10^5 Pa": the power belongs to the number
            self.take()
            number = self.pow(number, self.exponent())
        u = self.units() if self.allow_units else None
        if u is None:
            return number
        if self.info.literals == 1 and float(number.x) == 1 and number.err == 0:
            self.info.unit_one = True
        if values.is_offset(u.x):
            from scireflect.tools.verifiers import units

            return Val(units.registry().Quantity(float(number.x), u.x.units), number.err)
        return values.mul(number, u)

    def units(self) -> Val | None:
        """The unit symbols at the cursor (``kg m s^-2``, ``m/s^2``, ``J K^{-1} mol^{-1}``) as one quantity of
        magnitude 1, or None (nothing consumed) when the cursor is not at a unit."""
        from scireflect.tools.verifiers import units

        ureg = units.registry()
        start = self.i
        total: Any = None
        denominator = False
        while True:
            tok = self.peek()
            if tok is None:
                break
            sep = None
            if tok.val in _DIV_OPS + ("·", "\\cdot") and total is not None:
                if self._unit_at(1) is None:
                    break
                sep = self.take().val
            elif self._unit_at(0) is None:
                break
            parts = self._unit_at(0, note=True)
            tok = self.take()
            if parts is None:
                raise NotArithmetic("unit")  # unreachable: checked above
            if sep in _DIV_OPS:
                denominator = True
            part: Any = ureg.Quantity(1.0, parts[0])
            for p in parts[1:-1]:
                part = part * ureg.Quantity(1.0, p)
            last = ureg.Quantity(1.0, parts[-1]) if len(parts) > 1 else None
            if (nxt := self.peek()) and nxt.val == "^":  # the exponent binds to the last symbol: "Jm^{-3}"
                self.take()
                e = self.exponent()
                if abs(float(e.x)) > 12:
                    raise NotArithmetic("unit exponent")
                if last is not None:
                    last = last ** values.exp_value(e)
                else:
                    part = part ** values.exp_value(e)
            if last is not None:
                part = part * last
            if total is None:
                total = part
            else:
                total = total / part if denominator else total * part
        if total is None:
            self.i = start
            return None
        self.info.used_units = True
        return Val(total, 0.0)

    def _unit_at(self, k: int, note: bool = False) -> tuple[Any, ...] | None:
        """Units of the symbol ``k`` tokens ahead, or None when it is no unit. ``note`` records an ambiguous
        reading (the caller is about to take the token)."""
        tok, after = self.peek(k), self.peek(k + 1)
        if tok is None or tok.kind != "word":
            return None
        if after is not None and ((after.val == "(" and not tok.upright) or (tok.val == "e" and after.val == "^")):
            return None  # "P(A)", "f(x)": a function; "e^{x}": Euler's number
        split_ok = tok.upright or self.plain  # "\mathrm{Jm}" is J m; an italic "kT" is k T, not kilotesla
        res = resolve_unit(tok.val, split_ok)
        if res is None:
            return None
        parts, unsure = res
        if note and (unsure or tok.val in CONVENTION_UNITS or
                     (not tok.upright and not self.plain and len(tok.val) <= 2)):
            # An italic one- or two-letter symbol in LaTeX ("2 m", "3 g h") may be a variable; "ms" may be
            # m s; a gallon may be US or imperial.
            if tok.val not in self.info.ambiguous_units:
                self.info.ambiguous_units.append(tok.val)
        return parts

    def function(self, name: str) -> Val:
        power: Val | None = None
        if name == "\\log":
            self.info.log_base = True
        if (tok := self.peek()) and tok.val == "^":  # \sin^2 x, \tan^{-1} x
            self.take()
            power = self.exponent()
        nxt = self.peek()
        if nxt is not None and nxt.val in ("(", "[", "{"):
            self.take()
            arg = self.sum()
            self.expect({"(": ")", "[": "]", "{": "}"}[nxt.val])
        else:
            # "\ln 2", "\cos 45^\circ": the argument is one factor; "\ln 3 p" or "\sin 2 \theta" would need a
            # reading of where it ends, so a factor right after it is refused.
            arg = self.power()
            if self._starts_implicit(self.peek()):
                raise NotArithmetic("function argument without parentheses")
        self.info.inexact = True
        if name in _TRIG or name in ("\\arcsin", "\\arccos", "\\arctan"):
            inverse = name in ("\\arcsin", "\\arccos", "\\arctan")
            if power is not None and float(power.x) == -1 and name in _TRIG:
                inverse, name, power = True, "\\arc" + name[1:], None
            if name in ("\\sec", "\\csc", "\\cot"):
                inner = values.trig("\\" + {"sec": "cos", "csc": "sin", "cot": "tan"}[name[1:]], self._angle(arg))
                v = values.div(Val(Fraction(1)), inner)
            elif inverse:
                v = values.inverse_trig(name, values.plain(arg))
            else:
                v = values.trig(name, self._angle(arg))
        elif name in ("\\sinh", "\\cosh", "\\tanh"):
            a = values.plain(arg)
            f = {"\\sinh": math.sinh, "\\cosh": math.cosh, "\\tanh": math.tanh}[name]
            d = {"\\sinh": math.cosh, "\\cosh": math.sinh, "\\tanh": lambda t: 1 / math.cosh(t) ** 2}[name]
            x = float(a.x)
            if abs(x) > 700:
                raise NotArithmetic("overflow")
            v = Val(f(x), abs(d(x)) * a.err)
        elif name == "\\exp":
            v = values.exp(arg)
        else:
            base = {"\\lg": 10.0, "\\lb": 2.0, "\\ln": math.e}.get(name, math.e if self.natural_log else 10.0)
            v = values.log(values.plain(arg), base)
        if power is not None:
            v = self.pow(v, power)
        return v

    def _angle(self, arg: Val) -> Val:
        """A trigonometric argument in radians: degrees converted, a bare number noted as ambiguous."""
        if values.is_q(arg.x):
            if not arg.x.dimensionless or str(arg.x.units) not in ("degree", "radian", "turn"):
                raise NotArithmetic("trigonometric argument with units")
            factor = float(arg.x.to("radian").magnitude) / float(arg.x.magnitude) if arg.x.magnitude else 1.0
            return Val(float(arg.x.to("radian").magnitude), arg.err * abs(factor))
        self.info.bare_angle = True
        if self.degrees:
            return Val(math.radians(float(arg.x)), math.radians(arg.err))
        return Val(float(arg.x), arg.err)


# --------------------------------------------------------------------------------------------- entry

@dataclass
class Result:
    value: Any
    err: float
    info: Info

    # The old tuple interface: (value, written with decimals, has units).
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.value, self.info.inexact, self.info.used_units))

    def __getitem__(self, i: int) -> Any:
        return (self.value, self.info.inexact, self.info.used_units)[i]


def evaluate(text: str, allow_units: bool = True, *, plain: bool = False, degrees: bool = False,
             natural_log: bool = False) -> Result:
    """Value, uncertainty and reading notes of ``text``. Raises :class:`NotArithmetic`."""
    toks = tokenize(text)
    if not toks:
        raise NotArithmetic("empty")
    if not any(t.kind == "num" or t.val == "\\pi" for t in toks):
        raise NotArithmetic("no number")  # "m a", "d/t": symbols, not a numeric claim
    if toks[0].kind == "word" and not (toks[0].val == "e" and len(toks) > 1 and toks[1].val == "^"):
        raise NotArithmetic("starts with a symbol")
    p = _Parser(toks, allow_units, plain, degrees, natural_log)
    v = p.parse()
    if p.info.literals != 1 or p.info.ops:
        p.info.rounding = 0.0
        p.info.unit_one = False
    elif p.info.unit_one:
        p.info.rounding = 0.0  # "1 eV = 1.602e-19 J": the 1 of a conversion note is exact
    return Result(v.x, v.err, p.info)
