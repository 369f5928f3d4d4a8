"""Symbolic answers through math-verify, with the project's tolerance rules (runs in pool workers only).

math-verify parses LaTeX (``\\boxed{}`` extraction, fractions, radicals, sets, intervals, tuples, matrices,
equations) and compares structures. Its numeric leaf comparison rounds to 6 decimals; here it is
replaced, inside the worker, by the rules of the answer-equivalence README: a gold with a decimal number
gets a relative tolerance, an exact gold is matched exactly (to 1e-6 against a decimal approximation).
Sizes are checked before parsing, because sympy builds ``9^{9^{9^9}}`` in C code that no signal interrupts.
"""

from __future__ import annotations

import functools
import math
import re
import string
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

MAX_DIGITS_LOG10 = 100_000  # numbers with more digits than this are refused as too large
MAX_BRACE_DEPTH = 200
MAX_FACTORIAL = 20_000
MAX_SYMBOLIC_EXPONENT = 5_000


class TooLarge(Exception):
    """The expression would be too expensive to build or compare."""


@dataclass
class Tolerance:
    rel_tol: float = 0.01
    exact_rel_tol: float = 1e-6
    zero_abs_tol: float = 1e-12
    override: float | None = None
    exact_golds: bool = True


_TOL = Tolerance()


# -- size guards ---------------------------------------------------------------------------------
def _group(text: str, i: int) -> tuple[str, int] | None:
    """The exponent starting at ``text[i]``: a braced group or a single token; (content, end)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1:j], j + 1
        return None
    m = re.match(r"-?\d+(?:\.\d+)?|[A-Za-z]|\\mathrm\{e\}", text[i:])
    return (m.group(0), i + m.end()) if m else None


def _log10_value(expr: str, depth: int = 0) -> float | None:
    """log10 of a numeric power tower such as ``9^{9^{9}}`` (inf when astronomically large); None when
    ``expr`` is not such a tower."""
    expr = expr.strip()
    if depth > 50:
        return math.inf
    m = re.fullmatch(r"-?\d+(?:\.\d+)?", expr)
    if m:
        v = abs(float(expr))
        return math.log10(v) if v > 0 else -math.inf
    if expr in ("e", "\\mathrm{e}", "\\e"):
        return math.log10(math.e)
    m = re.match(r"(\d+(?:\.\d+)?|e|\\mathrm\{e\})\s*\^", expr)
    if not m:
        return None
    base = _log10_value(m.group(1), depth + 1)
    g = _group(expr, m.end())
    if base is None or g is None or g[1] != len(expr):
        return None
    if base == -math.inf:  # 0^n is 0 (or undefined): small whatever n is; log10(0) is not a size
        return None
    if base == 0:  # 1^n is 1
        return 0.0
    exp_log = _log10_value(g[0], depth + 1)
    if exp_log is None:
        return None
    if exp_log > 300:
        return math.inf if base > 0 else -math.inf
    return (10 ** exp_log if not g[0].strip().startswith("-") else -(10 ** exp_log)) * base


def size_problem(text: str) -> str | None:
    """Why ``text`` is too large to parse, or None. Cheap: regular expressions and float arithmetic."""
    depth = peak = 0
    for c in text:
        if c in "{([":
            depth += 1
            peak = max(peak, depth)
        elif c in "})]":
            depth -= 1
    if peak > MAX_BRACE_DEPTH:
        return f"brackets nested {peak} deep"
    for m in re.finditer(r"(\d+)\s*!", text):
        if len(m.group(1)) > 6 or int(m.group(1)) > MAX_FACTORIAL:
            return f"factorial of {m.group(1)[:12]}"
    for m in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?|e|\\mathrm\{e\})\s*\^", text):
        g = _group(text, m.end())
        if g is None:
            continue
        val = _log10_value(text[m.start():g[1]])
        if val is not None and abs(val) > MAX_DIGITS_LOG10:
            return "a power with more than 100000 digits"
    for m in re.finditer(r"[A-Za-z)}]\s*\^\s*\{?\s*(\d{4,})", text):
        if int(m.group(1)) > MAX_SYMBOLIC_EXPONENT:
            return f"exponent {m.group(1)[:12]}"
    return None


# -- parsing -------------------------------------------------------------------------------------
_E_NOTATION = re.compile(r"(?<![\w.\\])(\d+(?:\.\d*)?|\.\d+)[eE]([-+]?\d+)(?![\w.])")


_PAREN = re.compile(r"(?:\\left)?\(\s*(?:\\left)?\(([^()]*)(?:\\right)?\)\s*(?:\\right)?\)")
_SET_MEMBER = re.compile(r"(?<![\w\\])[A-Za-z]\s*\\in\s*(?=[\[(\\{]|\\mathbb|\\left)")


# latex2sympy reads ``n!!`` as ``(n!)!`` and drops primes (``f'(x)`` becomes ``f(x)``): both are rewritten
# before parsing into forms it keeps. A double factorial of a number, a letter or a command becomes
# ``\\Xi(n)``, which parses as an undefined function (also inside fractions, unlike ``\\mathrm{..}`` names)
# and which :func:`_restore_double_factorials` turns into sympy's ``factorial2`` after parsing. The parser
# reads a function of a bracketed group as a product, so ``(2n-1)!!`` becomes one symbol named after its
# operand (``\\Xi_{dfact(2n-1)}``): equal to the same double factorial only, never to ``((2n-1)!)!``.
_DFACT_FUNCTION = "\\Xi"
_PRIME = re.compile(r"(?<=[A-Za-z])(?:(')+|\s*\^\s*(?:\{\s*((?:\\prime\s*)+)\}|(\\prime)))(?![A-Za-z])")
_MAX_REWRITES = 50


def _operand_start(text: str, end: int) -> int | None:
    """Start of the operand of a postfix operator at ``text[end]``: a number, a letter (or a command such as
    ``\\pi``) or a bracketed group; None when there is none."""
    j = end
    while j > 0 and text[j - 1] == " ":
        j -= 1
    if j == 0:
        return None
    c = text[j - 1]
    if c in string.digits:
        return len(text[:j].rstrip("0123456789"))
    if c in string.ascii_letters:
        k = len(text[:j].rstrip(string.ascii_letters))
        return k - 1 if k > 0 and text[k - 1] == "\\" else j - 1  # "\\pi!!" whole; "xn!!" is x*(n!!)
    if c in ")]}":
        opening, depth = {")": "(", "]": "[", "}": "{"}[c], 0
        for k in range(j - 1, -1, -1):
            depth += (text[k] == c) - (text[k] == opening)
            if depth == 0:
                return k - 5 if text[:k].endswith("\\left") else k
    return None


def _double_factorials(s: str) -> str:
    """``n!!`` (the double factorial) in a form the parser does not read as ``(n!)!``."""
    for _ in range(_MAX_REWRITES):
        m = re.search(r"(?<!\\)!!", s)
        start = _operand_start(s, m.start()) if m else None
        if m is None or start is None:
            return s
        operand = s[start:m.start()].strip()
        if operand[-1] in ")]}":
            inner = re.sub(r"\s+|\\left|\\right", "", operand)[1:-1]  # (2n-1), {2n-1}: one name
            carrier = "\\Xi_{dfact(" + inner + ")}"
        else:
            carrier = f"{_DFACT_FUNCTION}({operand})"
        s = s[:start] + carrier + s[m.end():]
    return s


def _primes(s: str) -> str:
    """``f'(x)``, ``y''`` and ``f^{\\prime}`` with the primes as a subscript (``f_{\\prime}``), which the parser
    keeps: a derivative is not the function."""
    def sub(m: re.Match) -> str:
        n = len(m.group(0).strip()) if m.group(1) else m.group(0).count("\\prime")
        return "_{" + "\\prime" * n + "}"

    return _PRIME.sub(sub, s) if ("'" in s or "\\prime" in s) else s


def close_braces(text: str) -> str:
    """A reference answer cut off before its closing braces (``\\boxed{W(n) = 1``) with them added (before a
    closing math delimiter); only for references, a model's unclosed box stays unparsed."""
    missing = len(re.findall(r"(?<!\\)\{", text)) - len(re.findall(r"(?<!\\)\}", text))
    if missing <= 0 or missing > 20:
        return text
    m = re.search(r"\s*(?:\$+|\\\]|\\\))\s*$", text)
    cut = m.start() if m else len(text)
    return text[:cut] + "}" * missing + text[cut:]


def postfix_operators(text: str) -> str:
    """Double factorials and primes in forms the LaTeX parser keeps (see ``_DFACT_FUNCTION``)."""
    s = _double_factorials(text) if "!!" in text else text
    return _primes(s)


def latex_input(text: str) -> str:
    """Text for math-verify: e-notation as ``\\times10^{n}``, ``x \\in S`` as ``S``, redundant nested
    parentheses collapsed, postfix operators kept; undelimited short answers wrapped in ``$``."""
    s = _E_NOTATION.sub(lambda m: f"{m.group(1)}\\times10^{{{m.group(2)}}}", text)
    s = postfix_operators(s)
    s = _SET_MEMBER.sub("", s)
    s = re.sub(r"(?<=[\d)}])\s*(?:\\text\{\s*or\s*\}|\bor\b|(?<=\d)or)\s*(?=[-A-Za-z\\\d(])", ", ", s)
    for _ in range(300):
        s, n = _PAREN.subn(r"(\1)", s)
        if not n:
            break
    if re.search(r"\$|\\\(|\\\[|\\boxed|\\fbox", s):
        return s
    return f"${s}$"


@functools.lru_cache(maxsize=1)
def _configs() -> tuple[Any, ...]:
    from math_verify import LatexExtractionConfig

    return (LatexExtractionConfig(boxed_match_priority=0),)


def parse(text: str, wrap: bool = True, reference: bool = False) -> list[Any]:
    """math-verify parse without its signal timeout (the worker enforces deadlines) and without
    ``parse_expr`` (LaTeX extraction only, so no Python evaluation of the text). ``reference``: the text is
    a reference answer, whose missing closing braces are added."""
    from math_verify import parse as mv_parse

    _install()
    problem = size_problem(text)
    if problem:
        raise TooLarge(problem)
    if wrap:
        source = latex_input(text)
    else:
        source = postfix_operators(_E_NOTATION.sub(lambda m: f"{m.group(1)}\\times10^{{{m.group(2)}}}", text))
    if reference:
        source = close_braces(source)
    parsed = mv_parse(source, extraction_config=list(_configs()), parsing_timeout=None)
    if "!!" in text:  # only then is a \Xi(..) one of ours
        parsed = [_restore_double_factorials(x) for x in parsed]
    problem = _factorial_problem(parsed)
    if problem:
        raise TooLarge(problem)
    return parsed


def _restore_double_factorials(x: Any) -> Any:
    from sympy import Basic, factorial2
    from sympy.core.function import AppliedUndef

    if not isinstance(x, Basic) or not x.atoms(AppliedUndef):
        return x

    def is_dfact(e: Any) -> bool:
        return isinstance(e, AppliedUndef) and e.func.__name__ == _DFACT_FUNCTION and len(e.args) == 1

    # evaluate=False: the argument's size is checked (_factorial_problem) before anything is computed.
    return x.replace(is_dfact, lambda e: factorial2(e.args[0], evaluate=False))


def _factorial_problem(parsed: list[Any]) -> str | None:
    """A factorial of a number above MAX_FACTORIAL anywhere in the parsed answer (``(20!)!``, which the
    text guard cannot see): its argument is estimated in floating point, which is fast for any size."""
    from sympy import Basic, MatrixBase, factorial, factorial2, preorder_traversal

    for x in parsed:
        items = list(x) if isinstance(x, MatrixBase) else [x]
        for item in items:
            if not isinstance(item, Basic) or not item.has(factorial, factorial2):
                continue
            for node in preorder_traversal(item):
                if isinstance(node, (factorial, factorial2)) and not node.args[0].free_symbols:
                    try:
                        size = abs(complex(node.args[0].evalf(15)))
                    except (TypeError, ValueError, OverflowError):
                        return "factorial of an expression that has no numeric value"
                    if not size <= MAX_FACTORIAL:
                        return f"factorial of {size:.3g}"
    return None


# -- comparison ----------------------------------------------------------------------------------
def _as_number(x: Any) -> Any | None:
    from sympy import I, Basic, Mul, Rational, UnevaluatedExpr

    if not isinstance(x, Basic):
        return None
    if isinstance(x, Mul) and len(x.args) == 2 and x.args[1] == UnevaluatedExpr(Rational(1, 100)):
        x = x.args[0] / 100
    try:
        syms = x.free_symbols
        if len(syms) == 1 and str(next(iter(syms))) == "i":  # "e^{i\pi}": a lone i is the imaginary unit
            x = x.subs(next(iter(syms)), I)
        if x.free_symbols or not x.is_number:
            return None
    except Exception:  # noqa: BLE001
        return None
    return x


def _exactly_equal(g: Any, p: Any) -> bool:
    """Exact comparison of two closed-form numbers without ``simplify`` (which can run for minutes on
    nested radicals): rationals compare exactly; otherwise 60 significant digits must agree."""
    from sympy import Rational

    if g == p:
        return True
    g2, p2 = _doit(g), _doit(p)
    if isinstance(g2, Rational) and isinstance(p2, Rational):
        return bool(g2 == p2)
    gv, pv = g2.evalf(60), p2.evalf(60)
    if not (gv.is_number and pv.is_number):
        return False
    if gv == 0:
        return bool(pv == 0) or bool(p2.is_zero)
    return bool(abs(gv - pv) <= abs(gv) * 1e-50)


def _doit(x: Any) -> Any:
    try:
        return x.doit()
    except Exception:  # noqa: BLE001
        return x


def real_value(x: Any) -> Fraction | None:
    """A real closed-form number as an exact Fraction when rational, else to 30 digits; None otherwise
    (symbols, complex values, magnitudes a float cannot hold)."""
    from sympy import Rational

    x = _as_number(x)
    if x is None:
        return None
    x = _doit(x)
    if isinstance(x, Rational):
        return Fraction(int(x.p), int(x.q))
    v = x.evalf(30)
    if not v.is_real or not v.is_finite:
        return None
    f = float(v)
    if f == 0.0 and v != 0 or math.isinf(f):
        return None
    return Fraction(str(v))


def numeric_eq(gold: Any, pred: Any, float_rounding: int = 6, numeric_precision: int = 15) -> bool:
    """Replacement for math-verify's ``sympy_numeric_eq`` applying the tolerance rules to numbers."""
    from sympy import Float, MatrixBase

    if isinstance(gold, MatrixBase) and isinstance(pred, MatrixBase):
        if gold.shape != pred.shape:
            return False
        return all(numeric_eq(a, b) for a, b in zip(gold, pred))
    g, p = _as_number(gold), _as_number(pred)
    if g is None or p is None:
        return bool(_ORIGINAL_NUMERIC_EQ(gold, pred, float_rounding, numeric_precision))
    if g.is_finite is False or p.is_finite is False:  # oo, -oo, zoo: only identical infinities are equal
        return bool(g == p)
    t = _TOL
    if t.override is not None:
        rel = t.override
    elif g.has(Float) or not t.exact_golds:
        rel = t.rel_tol
    elif p.has(Float):
        rel = t.exact_rel_tol
    else:
        return _exactly_equal(g, p)
    try:
        gv, pv = complex(g.evalf(30)), complex(p.evalf(30))
    except (TypeError, ValueError, OverflowError):
        return False
    if gv == 0:
        return abs(pv) <= t.zero_abs_tol
    return abs(gv - pv) <= rel * abs(gv)


_ORIGINAL_NUMERIC_EQ: Any = None


def _install() -> None:
    """Put :func:`numeric_eq` into math-verify's grader (only ever done inside a worker process)."""
    global _ORIGINAL_NUMERIC_EQ
    import math_verify.grader as grader
    import math_verify.parser as parser

    if _ORIGINAL_NUMERIC_EQ is None:
        _ORIGINAL_NUMERIC_EQ = grader.sympy_numeric_eq
        grader.sympy_numeric_eq = numeric_eq
        # We pass timeouts of None on purpose (the pool enforces them); silence the one-time warning.
        grader.TIMEOUT_WARNING_SHOWN = True
        parser.TIMEOUT_WARNING_SHOWN = True


def math_equal(pred: str, gold: str, tol: Tolerance, wrap_pred: bool = True) -> tuple[bool, dict[str, Any]]:
    """Whether pred and gold are the same mathematical answer; details with the parsed forms."""
    global _TOL
    _install()
    _TOL = tol
    gold_parsed = parse(gold, reference=True)
    pred_parsed = parse(pred, wrap=wrap_pred)
    details: dict[str, Any] = {"pred_parsed": _show(pred_parsed), "gold_parsed": _show(gold_parsed)}
    if not gold_parsed or not pred_parsed:
        details["parse_failed"] = "gold" if not gold_parsed else "pred"
        return False, details
    if _equation_of_a_sum(gold_parsed) and not _is_relation(pred_parsed):
        # math-verify reads "x + z = 1" as a named quantity x+z with value 1; as a reference it is an
        # equation (a plane, a line), and a bare 1 does not answer it.
        details["gold_equation_kept"] = True
        return False, details
    ok = _verify(gold_parsed, pred_parsed)
    if not ok:
        gold_renamed, pred_renamed = _rename_definitions(gold_parsed), _rename_definitions(pred_parsed)
        if gold_renamed is not None and pred_renamed is not None:
            # "W(x) = 1" against "W(n) = 1": the variable a function is defined in is a dummy.
            ok = _verify(gold_renamed, pred_renamed)
            details["renamed_definition_variables"] = bool(ok)
    return bool(ok), details


def _verify(gold_parsed: list[Any], pred_parsed: list[Any]) -> bool:
    from math_verify import verify

    # allow_set_relation_comp: an inequality equals the interval it describes, in either direction.
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None, raise_on_error=False,
                       allow_set_relation_comp=True))


def _is_relation(parsed: list[Any]) -> bool:
    from sympy.core.relational import Relational

    return isinstance(parsed[0], Relational)


def _equation_of_a_sum(parsed: list[Any]) -> bool:
    from sympy import Add, Eq

    x = parsed[0]
    return isinstance(x, Eq) and isinstance(x.lhs, Add) and all(a.is_Symbol for a in x.lhs.args)


def _rename_definitions(parsed: list[Any]) -> list[Any] | None:
    """The parsed answer with each function definition ``f(x) = x^2`` written in canonical variables
    (``f(_v0) = _v0^2``), renaming the variable on both sides of the definition and nowhere else; None when
    the answer defines no function. A bare ``f(x)`` is not a definition: ``f(x)`` and ``f(y)`` differ."""
    out, renamed = [], False
    for x in parsed:
        y = _renamed(x)
        renamed = renamed or y is not x
        out.append(y)
    return out if renamed else None


def _renamed(x: Any) -> Any:
    from sympy import And, Eq, FiniteSet, Or, Symbol, Tuple
    from sympy.core.function import AppliedUndef

    if isinstance(x, (FiniteSet, Tuple, And, Or)):
        args = [_renamed(a) for a in x.args]
        return x if all(a is b for a, b in zip(args, x.args)) else x.func(*args)
    if not isinstance(x, Eq) or not isinstance(x.lhs, AppliedUndef):
        return x
    params = x.lhs.args
    if not params or not all(isinstance(a, Symbol) for a in params) or len(set(params)) != len(params):
        return x  # f(2) = 5 or f(x, x) = 1: a value, not a definition in its own variables
    names = {a: Symbol(f"_v{i}", real=True) if a.is_real else Symbol(f"_v{i}") for i, a in enumerate(params)}
    return Eq(x.lhs.xreplace(names), x.rhs.xreplace(names), evaluate=False)


def _show(parsed: list[Any]) -> str | None:
    if not parsed:
        return None
    try:
        return str(parsed[0])[:300]
    except Exception:  # noqa: BLE001 - printing a huge sympy object can fail
        return None
