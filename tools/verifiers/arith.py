"""A small, closed evaluator for numeric claims such as ``120/2``, ``3 \\times 4``, ``\\frac{1}{2}(3)^2`` or
``2\\,\\mathrm{kg} \\times 3\\,\\mathrm{m/s^2}`` (runs in pool workers).

It understands numbers, ``+ - * / ^``, ``\\times``, ``\\cdot``, parentheses, ``\\frac``, ``\\sqrt``, ``\\pi``
and, when asked, unit symbols (as pint quantities). Anything else raises :class:`NotArithmetic`: the
caller then treats the claim as unchecked. No Python evaluation is involved; exponents are bounded.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from scireflect.tools.verifiers import numparse

MAX_TOKENS = 400
MAX_EXPONENT = 400


class NotArithmetic(Exception):
    """The text is not a closed arithmetic expression this evaluator handles."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![A-Za-z]))?)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<word>[A-Za-zµΩÅ°]+)"
    r"|(?P<op>[-+*/^(){}\[\]·×÷−]))")
_DROP = ("\\left", "\\right", "\\,", "\\;", "\\!", "\\ ", "~", "\\quad", "$")


def tokenize(text: str) -> list[tuple[str, str]]:
    s = numparse.superscripts(text)
    for d in _DROP:
        s = s.replace(d, " ")
    s = re.sub(r"\\(?:mathrm|text|textrm|operatorname|mbox)\s*\{([^{}]*)\}", r" \1 ", s)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)  # thousands separators
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        if s[pos:].strip() == "":
            break
        m = _TOKEN.match(s, pos)
        if not m:
            raise NotArithmetic(f"unexpected {s[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        if len(out) > MAX_TOKENS:
            raise NotArithmetic("too long")
    return out


class _Parser:
    """Recursive descent: sum -> product -> unary -> power -> atom, with implicit multiplication."""

    def __init__(self, tokens: list[tuple[str, str]], allow_units: bool):
        self.t = tokens
        self.i = 0
        self.allow_units = allow_units
        self.used_units = False
        self.decimal = False

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise NotArithmetic("unexpected end")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise NotArithmetic(f"expected {value!r}")

    def parse(self) -> Any:
        v = self.sum()
        if self.peek() is not None:
            raise NotArithmetic(f"trailing {self.peek()[1]!r}")  # type: ignore[index]
        return v

    def sum(self) -> Any:
        v = self.product()
        while (tok := self.peek()) and tok[1] in ("+", "-", "−"):
            self.take()
            w = self.product()
            v = _add(v, w) if tok[1] == "+" else _add(v, _neg(w))
        return v

    def _starts_atom(self, tok: tuple[str, str] | None) -> bool:
        if tok is None:
            return False
        kind, val = tok
        return kind in ("num", "word") or val in ("(", "[", "{") or (
            kind == "cmd" and val in ("\\frac", "\\dfrac", "\\tfrac", "\\sqrt", "\\pi", "\\mu", "\\Omega"))

    def product(self) -> Any:
        v = self.unary()
        while True:
            tok = self.peek()
            if tok and tok[1] in ("*", "·", "×", "\\times", "\\cdot"):
                self.take()
                v = _mul(v, self.unary())
            elif tok and tok[1] in ("/", "÷", "\\div"):
                self.take()
                v = _div(v, self.unary())
            elif self._starts_atom(tok):
                v = _mul(v, self.power())  # implicit: 2(3), (2)(3), 2\pi, 3 m
            else:
                return v

    def unary(self) -> Any:
        tok = self.peek()
        if tok and tok[1] in ("-", "−", "+"):
            self.take()
            v = self.unary()
            return _neg(v) if tok[1] != "+" else v
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if (tok := self.peek()) and tok[1] == "^":
            self.take()
            exp = self.unary() if self.peek() and self.peek()[1] in ("-", "−") else self.atom()  # type: ignore[index]
            return _pow(base, exp)
        return base

    def group(self) -> Any:
        self.expect("{")
        v = self.sum()
        self.expect("}")
        return v

    def atom(self) -> Any:
        kind, val = self.take()
        if kind == "num":
            if "." in val or "e" in val.lower():
                self.decimal = True
            return Fraction(val)
        if val in ("(", "[", "{"):
            v = self.sum()
            self.expect({"(": ")", "[": "]", "{": "}"}[val])
            return v
        if val in ("\\frac", "\\dfrac", "\\tfrac"):
            return _div(self.group(), self.group())
        if val == "\\sqrt":
            if self.peek() and self.peek()[1] == "[":  # type: ignore[index]
                self.take()
                n = self.sum()
                self.expect("]")
                return _pow(self.group(), _div(Fraction(1), n))
            return _pow(self.group(), Fraction(1, 2))
        if val == "\\pi":
            self.decimal = True
            return math.pi
        if self.allow_units and (kind == "word" or val in ("\\mu", "\\Omega")) and self.i > 1:
            # A unit only ever follows a number or another unit ("2 kg", "3 m/s"); a leading word such
            # as "ma" or "mc^2" is a product of variables, not a quantity.
            return self.unit(val)
        raise NotArithmetic(f"not a number: {val!r}")

    def unit(self, val: str) -> Any:
        from scireflect.tools.verifiers import units

        name = val
        if val == "\\mu":  # \mu m -> µm
            nxt = self.take()
            name = "µ" + nxt[1]
        elif val == "\\Omega":
            name = "Ω"
        resolved = units.parse_unit(name)
        if resolved is None:
            raise NotArithmetic(f"not a unit: {name!r}")
        self.used_units = True
        return units.registry().Quantity(1.0, resolved)


def _is_q(x: Any) -> bool:
    return hasattr(x, "magnitude")


def _f(x: Any) -> Any:
    return float(x) if isinstance(x, Fraction) else x


def _add(a: Any, b: Any) -> Any:
    if _is_q(a) or _is_q(b):
        if not (_is_q(a) and _is_q(b)):
            raise NotArithmetic("number plus quantity")
        return a + b
    return a + b if isinstance(a, Fraction) and isinstance(b, Fraction) else float(a) + float(b)


def _neg(a: Any) -> Any:
    return -a


def _mul(a: Any, b: Any) -> Any:
    if _is_q(a) or _is_q(b):
        return _f(a) * _f(b)
    return a * b if isinstance(a, Fraction) and isinstance(b, Fraction) else float(a) * float(b)


def _div(a: Any, b: Any) -> Any:
    if (_is_q(b) and b.magnitude == 0) or (not _is_q(b) and b == 0):
        raise NotArithmetic("division by zero")
    if _is_q(a) or _is_q(b):
        return _f(a) / _f(b)
    return a / b if isinstance(a, Fraction) and isinstance(b, Fraction) else float(a) / float(b)


def _pow(a: Any, b: Any) -> Any:
    if _is_q(b):
        raise NotArithmetic("quantity exponent")
    if abs(float(b)) > MAX_EXPONENT:
        raise NotArithmetic("exponent too large")
    if _is_q(a):
        return a ** float(b)
    if isinstance(a, Fraction) and isinstance(b, Fraction) and b.denominator == 1:
        if abs(a.numerator).bit_length() * abs(b.numerator) > 20_000:
            raise NotArithmetic("result too large")
        return a ** int(b)
    try:
        r = float(a) ** float(b)
    except (OverflowError, ZeroDivisionError) as e:
        raise NotArithmetic(str(e)) from None
    if isinstance(r, complex) or math.isinf(r) or math.isnan(r):
        raise NotArithmetic("not a finite real")
    return r


def evaluate(text: str, allow_units: bool = True) -> tuple[Any, bool, bool]:
    """(value, written with decimals, has units). Raises :class:`NotArithmetic`."""
    p = _Parser(tokenize(text), allow_units)
    if not p.t:
        raise NotArithmetic("empty")
    if not any(k == "num" for k, _ in p.t):
        raise NotArithmetic("no number")  # "m a", "d/t": symbols, not a numeric claim
    if p.t[0][0] == "word":
        raise NotArithmetic("starts with a symbol")
    v = p.parse()
    return v, p.decimal, p.used_units
