"""Answer equivalence: the decision procedure behind ``verify_answer`` (runs inside pool workers).

Order: identical text -> multiple choice -> numbers and quantities (exact arithmetic, pint for units) ->
math-verify for symbolic answers -> normalized text. Every rule is an :class:`AnswerOptions` field.
Results are plain dicts (they cross the process boundary as JSON). Values derived from the reference
answer sit in ``details`` under keys starting with ``gold`` so that stage-2 prompts can drop them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from scireflect.tools import extract
from scireflect.tools.extract import boxed_answer
from scireflect.tools.reasoning import split_reasoning
from scireflect.tools.verifiers import choice, numparse, units
from scireflect.tools.verifiers.options import AnswerOptions


def verdict(ok: bool, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"ok": ok, "reason": reason, "message": message, "details": details}


def _norm(s: str) -> str:
    s = s.strip()
    s = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\ |~|\s+|\$", "", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    return s.rstrip(".")


def identical(pred_ans: str, gold_ans: str) -> bool:
    """The same answer text once whitespace, LaTeX spacing commands and \\left/\\right are ignored."""
    return bool(pred_ans.strip()) and _norm(pred_ans) == _norm(gold_ans)


def _gold_answer(gold: str) -> str:
    r"""The reference's answer text: its box when it has one, else the text without one pair of maths
    dollars around all of it (``$\frac{1}{2}$``; ``588313 $\$$`` keeps its currency sign)."""
    boxed = boxed_answer(gold)
    if boxed:
        return boxed
    g = gold.strip()
    m = re.fullmatch(r"\$+([^$]*?)\$+", g)
    if m and not g.endswith("\\$"):
        return m.group(1).strip()
    return g


# -- quantities ----------------------------------------------------------------------------------
@dataclass
class Quantity:
    num: numparse.Num
    unit_text: str = ""
    units: Any = None          # pint Unit, None when unitless or unknown
    unknown_unit: bool = False  # unit text that is not a unit (a word such as "yuan")

    @property
    def has_unit(self) -> bool:
        return self.units is not None


def _value(text: str, decimal_comma: bool) -> numparse.Num | None:
    num = numparse.parse_number(text, decimal_comma=decimal_comma)
    if num is not None:
        return num
    if re.search(r"\\(?:pi|sqrt|frac)", text):  # e.g. \frac{\pi}{2} rad: evaluate through math-verify
        from scireflect.tools.verifiers import mathcmp

        parsed = mathcmp.parse(text)
        value = mathcmp.real_value(parsed[0]) if parsed else None
        if value is not None:
            return numparse.Num(value, numparse.is_decimal_text(text), False, text)
    return None


def parse_quantity(text: str, *, decimal_comma: bool = False, lenient: bool = False) -> Quantity | None:
    """A number with an optional unit; None when ``text`` is not one (then it is maths or prose).

    ``lenient``: trailing text that is not a unit is dropped instead of making the parse fail."""
    full = numparse.parse_number(text, decimal_comma=decimal_comma)
    if full is not None:
        return Quantity(full)
    sq = units.split_quantity(text)
    if sq is None:
        return None
    num = _value(sq.value, decimal_comma)
    if num is None:
        return None
    unit_text = sq.unit
    if not unit_text:
        return Quantity(num)
    if re.fullmatch(r"\\?%|percent(?:age)?|pct", unit_text):
        return Quantity(numparse.Num(num.value, num.decimal, True, text))
    scale, unit_text = units.scale_word(unit_text)
    if scale != 1:
        num = numparse.Num(num.value * scale, num.decimal, num.percent, text)
        if not unit_text:
            return Quantity(num)
    parsed = units.parse_unit(unit_text)
    if parsed is not None:
        return Quantity(num, unit_text, parsed)
    head = _unit_before_prose(unit_text)
    if head is not None:  # "44.8 L at STP": the unit, then words about it
        return Quantity(num, head[0], head[1])
    if re.fullmatch(r"[A-Za-z][A-Za-z ]{0,40}|[€$£¥]", unit_text.strip()) or lenient:
        return Quantity(num, unit_text, None, unknown_unit=True)
    return None  # "2\sqrt{2}", "2x+1": maths, not a quantity


def _unit_before_prose(unit_text: str) -> tuple[str, Any] | None:
    """The longest leading run of ``unit_text`` that is a unit when the rest is plain words; else None."""
    words = unit_text.split()
    for n in range(min(len(words) - 1, 6), 0, -1):
        rest = words[n:]
        if all(re.fullmatch(r"[A-Za-z]+[.,;:]?", w) for w in rest) and len(" ".join(rest)) <= 60:
            parsed = units.parse_unit(" ".join(words[:n]))
            if parsed is not None:
                return " ".join(words[:n]), parsed
    return None


_NUMBER_START = re.compile(r"(?<![\w.,])[-+−]?(?:\d|\.\d)")


_SCI = re.compile(r"(\d)\s*(?:x|X|×|\\times|\\cdot)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?")


def _last_quantity(text: str, decimal_comma: bool) -> Quantity | None:
    """The last number (with its unit when it has one) stated in a sentence."""
    tail = _SCI.sub(r"\1e\2", text[-2000:])  # "3.00 x 10^8" is one number, not "10^8" after "3.00"
    for m in reversed(list(_NUMBER_START.finditer(tail))):
        q = parse_quantity(tail[m.start():], decimal_comma=decimal_comma, lenient=True)
        if q is not None:
            return q
    return None


def _pred_quantity(pred_ans: str, decimal_comma: bool) -> Quantity | None:
    q = parse_quantity(pred_ans, decimal_comma=decimal_comma)
    if q is not None:
        return q
    lead = re.match(r"^(?:[A-Za-z]{2,}[,:]?\s+){1,4}(?=[-+−]?\.?\d)", pred_ans)
    if lead:  # "About 3.00 x 10^8 m/s", "approximately 42 N"
        q = parse_quantity(pred_ans[lead.end():], decimal_comma=decimal_comma)
        if q is not None:
            return q
    total = numparse.parse_sum(pred_ans)
    if total is not None:
        return Quantity(total)
    rels = list(extract.RELATION.finditer(pred_ans))
    if rels:  # a chain "x = 5+5+1 = 7 = 11" or "y(2) \cong 46.7 kg": the final value counts
        q = parse_quantity(pred_ans[rels[-1].end():], decimal_comma=decimal_comma)
        if q is None:
            q = closed_form_quantity(pred_ans[rels[-1].end():])
        if q is not None:
            return q
    if re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}|[€$£¥:]", pred_ans) and not re.search(r"\\[a-z]+\{|\^", pred_ans):
        return _last_quantity(pred_ans, decimal_comma)  # prose: "which is 1,000.99€"
    return None


def _tolerance(gold: numparse.Num, pred_decimal: bool, o: AnswerOptions) -> tuple[float | None, str]:
    """(relative tolerance, rule); None means exact rational equality."""
    if o.tolerance is not None:
        return o.tolerance, "tolerance given"
    if gold.decimal or not o.exact_golds:
        return o.rel_tol, "decimal gold"
    if pred_decimal:
        return o.exact_rel_tol, "exact gold, decimal pred"
    return None, "exact gold"


def _num_verdict(p: Fraction | float, g: Fraction | float, tol: float | None, rule: str, o: AnswerOptions,
                 **details: Any) -> dict[str, Any]:
    if tol is None and isinstance(p, Fraction) and isinstance(g, Fraction):
        ok = p == g
    else:
        ok = numparse.close(float(p), float(g), tol if tol is not None else o.exact_rel_tol, o.zero_abs_tol)
    rel = abs(float(p) - float(g)) / abs(float(g)) if float(g) else None
    details.update(pred_value=_f(p), gold_value=_f(g), tolerance=tol if tol is not None else 0.0,
                   tolerance_rule=rule, gold_rel_error=rel)
    if ok:
        details.pop("pred_shown", None)
        return verdict(True, "equal", "values agree within tolerance", **details)
    shown = details.pop("pred_shown", None) or f"{_f(p):g}"
    # Said in the answer's own terms: a converted value would reveal the reference's unit.
    return verdict(False, "unequal", f"{shown} is not equal to the reference answer "
                                     f"(relative tolerance {tol if tol is not None else 0:g})", **details)


def _f(x: Fraction | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


def compare_quantities(pq: Quantity, gq: Quantity, o: AnswerOptions) -> dict[str, Any]:
    """Rules 1-6 of the README for a pred and a gold that are both numbers (with or without units)."""
    shown = (pq.num.text.strip() or f"{_f(pq.num.value):g}") + (f" {pq.unit_text}" if pq.unit_text else "")
    base = {"pred_unit": pq.unit_text or None, "gold_unit": gq.unit_text or None, "pred_shown": shown[:200]}
    if gq.num.percent or pq.num.percent:
        return _percent(pq, gq, o, base)
    if gq.has_unit and o.units:
        if not pq.has_unit:
            if pq.unknown_unit or not o.bare_number_in_gold_unit:
                return verdict(False, "dimension_mismatch", f"the answer's unit {pq.unit_text or '(none)'!r} is "
                               "not a unit of the reference's dimension", **base)
            pq = Quantity(pq.num, gq.unit_text, gq.units)
            base["pred_unit_rule"] = "bare number read in the gold's unit"
        return _unit_verdict(pq, gq, o, base)
    if pq.has_unit and not gq.has_unit and not gq.unknown_unit and not o.ignore_pred_unit_if_gold_unitless:
        return verdict(False, "dimension_mismatch", "the answer has a unit but the reference has none", **base)
    tol, rule = _tolerance(gq.num, pq.num.decimal, o)
    return _num_verdict(pq.num.value, gq.num.value, tol, rule, o, **base)


def _unit_verdict(pq: Quantity, gq: Quantity, o: AnswerOptions, base: dict[str, Any]) -> dict[str, Any]:
    pu, gu = pq.units, gq.units
    temp = o.temperature_offsets and (units.is_temperature(pu) or units.is_temperature(gu))
    try:
        if temp:
            pv, pdim = units.to_kelvin_or_base(float(pq.num.value), pu)
            gv, gdim = units.to_kelvin_or_base(float(gq.num.value), gu)
        else:
            ureg = units.registry()
            pdim, gdim = ureg.Quantity(1, pu).dimensionality, ureg.Quantity(1, gu).dimensionality
            if pdim != gdim:
                raise ValueError("dimension")
            pv = float(ureg.Quantity(float(pq.num.value), pu).to(gu).magnitude)
            gv = float(gq.num.value)
    except ValueError:
        pdim, gdim = _dims(pu), _dims(gu)
        return verdict(False, "dimension_mismatch", f"the answer's unit {pq.unit_text!r} ({pdim}) has a different "
                       "physical dimension than the reference answer", pred_dimension=pdim,
                       gold_dimension=gdim, **base)
    except Exception as e:  # noqa: BLE001 - pint offset/undefined errors: not comparable
        return verdict(False, "dimension_mismatch", f"units cannot be compared: {type(e).__name__}", **base)
    if pdim != gdim:
        return verdict(False, "dimension_mismatch", f"the answer's unit {pq.unit_text!r} ({pdim}) has a different "
                       "physical dimension than the reference answer", pred_dimension=str(pdim),
                       gold_dimension=str(gdim), **base)
    tol, rule = _tolerance(gq.num, True, o)
    base["dimension"] = str(pdim)
    out = _num_verdict(pv, gv, tol, rule + (", kelvin scale" if temp else ""), o, **base)
    # The converted value is in the reference's unit: keep it under a gold* key (stripped for stage 2).
    out["details"]["gold_unit_pred_value"] = out["details"].pop("pred_value")
    out["details"]["pred_value"] = _f(pq.num.value)
    return out


def _dims(u: Any) -> str:
    try:
        return str(units.registry().Quantity(1, u).dimensionality)
    except Exception:  # noqa: BLE001
        return "?"


def _percent(pq: Quantity, gq: Quantity, o: AnswerOptions, base: dict[str, Any]) -> dict[str, Any]:
    g, p = gq.num, pq.num
    tol, rule = _tolerance(g, p.decimal, o)
    if g.percent:
        if p.percent:  # 28% vs 28%
            return _num_verdict(p.value, g.value, tol, rule + ", percent", o, **base)
        first = _num_verdict(p.value, g.value, tol, rule + ", percent sign optional", o, **base)
        if first["ok"] or not o.percent_as_fraction:
            return first
        return _num_verdict(p.value, g.value / 100, tol, rule + ", percent as fraction", o, **base)
    first = _num_verdict(p.value, g.value, tol, rule + ", percent sign ignored", o, **base)
    if first["ok"] or not o.percent_as_fraction:  # gold 20, pred 20%
        return first
    return _num_verdict(p.value / 100, g.value, tol, rule + ", percent as fraction", o, **base)  # 0.28 vs 28%


# -- the whole procedure -------------------------------------------------------------------------
def _choice(pred: str, gold_ans: str, o: AnswerOptions) -> dict[str, Any] | None:
    if o.multiple_choice == "off":
        return None
    g = choice.gold_letter(gold_ans, o.choices)
    if g is None or (o.multiple_choice == "auto" and not o.choices and choice.letter_of(gold_ans) is None):
        return None
    p = choice.pred_letter(pred, o.choices)
    if p is None:
        return verdict(False, "no_answer", "no option letter found in the answer", gold_choice=g)
    if p == g:
        return verdict(True, "equal", f"option {p} is the reference option", pred_choice=p, gold_choice=g)
    return verdict(False, "unequal", f"option {p} is not the reference option", pred_choice=p, gold_choice=g)


_GOLD_NUMBER = re.compile(r"\s*(?P<n>[-+−]?\s*(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\d.])(?P<rest>.*)$", re.S)


def gold_quantity(gold_ans: str, o: AnswerOptions) -> Quantity | None:
    r"""The reference as a number with a unit, or None when it is not one (then it is maths or text).

    A unit as question files write it is read with :func:`units.parse_unit_spec`: SciBench's LaTeX
    (``-0.28 $\mathrm{~Pa} \mathrm{~m}^3 \mathrm{~mol}^{-1}$``), a leading power of ten that belongs to the
    value (``4.86 $10^{11} \mathrm{~s}$`` is 4.86e11 s), a percent sign."""
    gq = parse_quantity(gold_ans)
    if gq is None and o.decimal_comma and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", gold_ans):
        gq = parse_quantity(gold_ans, decimal_comma=True)
    if gq is not None and not gq.unknown_unit:
        return gq
    m = _GOLD_NUMBER.match(gold_ans)
    if not m or not m.group("rest").strip():
        return gq
    num = numparse.parse_number(m.group("n"))
    spec = units.parse_unit_spec(m.group("rest"))
    if num is None or spec is None:
        return gq
    value = num.value * spec.factor
    decimal = num.decimal or spec.factor != 1
    if spec.percent:
        return Quantity(numparse.Num(value, decimal, True, gold_ans))
    return Quantity(numparse.Num(value, decimal, False, m.group("n")), spec.text, spec.units)


def _numeric(pred_ans: str, gold_ans: str, o: AnswerOptions, gq: Quantity | None = None) -> dict[str, Any] | None:
    gq = gq if gq is not None else gold_quantity(gold_ans, o)
    if gq is None:
        return None
    pq = _pred_quantity(pred_ans, decimal_comma=False)
    if pq is None and gq.has_unit and o.units:
        pq = closed_form_quantity(pred_ans)
    if o.decimal_comma and (pq is None or (re.search(r"\d,\d", pred_ans) and gq.num.decimal)):
        alt = _pred_quantity(pred_ans, decimal_comma=True)
        if alt is not None and (pq is None or alt.num.decimal):
            pq = alt
    if pq is None:
        return None
    return compare_quantities(pq, gq, o)


def _text_equal(a: str, b: str) -> bool:
    def n(s: str) -> str:
        s = re.sub(r"\\(?:text|mathrm|textbf|mbox)\s*\{([^{}]*)\}", r"\1", s)
        return re.sub(r"[\s$.]+", " ", s).strip().lower()

    return bool(n(a)) and n(a) == n(b)


def _math(pred: str, pred_ans: str | None, gold: str, o: AnswerOptions) -> dict[str, Any]:
    from scireflect.tools.verifiers import mathcmp

    tol = mathcmp.Tolerance(o.rel_tol, o.exact_rel_tol, o.zero_abs_tol, o.tolerance, o.exact_golds)
    if pred_ans is not None:  # the extracted answer alone: the rest of a solution is not the answer
        source, wrap = pred_ans, True
    elif len(pred) <= 300:  # nothing extracted from a short text: math-verify's own extraction may find it
        source, wrap = pred, False
    else:
        return verdict(False, "no_answer", "no final answer found")
    try:
        ok, details = mathcmp.math_equal(source, gold, tol, wrap_pred=wrap)
    except mathcmp.TooLarge as e:
        return verdict(False, "too_large", f"answer too large to compare: {e}")
    failed = details.get("parse_failed")
    if not ok and pred_ans and _text_equal(pred_ans, _gold_answer(gold)):
        return verdict(True, "equal", "answers match as text", method="text", **details)
    if ok:
        return verdict(True, "equal", "answers are mathematically equivalent", method="math-verify", **details)
    if failed == "pred":
        if pred_ans is None:
            return verdict(False, "no_answer", "no final answer found", **details)
        return verdict(False, "parse_error", "the answer could not be parsed as mathematics", **details)
    return verdict(False, "unequal", "answer is not equivalent to the reference answer", method="math-verify",
                   **details)


def compare(pred: str, gold: str, o: AnswerOptions) -> dict[str, Any]:
    response = split_reasoning(pred)
    if response.truncated:
        return verdict(False, "truncated_reasoning", "the output stopped inside its reasoning block, so it states "
                       "no final answer", reasoning_chars=len(response.reasoning or ""))
    final = response.final
    gold_ans = _gold_answer(gold)
    gq = gold_quantity(gold_ans, o) if not o.choices else None
    extracted, how = choose_answer(final, gq, o)
    pred_ans = extracted or final.strip()
    if len(pred_ans) > o.max_answer_chars:
        return verdict(False, "too_large", f"answer longer than {o.max_answer_chars} characters")
    base = {"pred_answer": pred_ans[:300], "extraction": how}
    if response.has_reasoning:
        base["reasoning_chars"] = len(response.reasoning or "")
    if identical(pred_ans, gold_ans):
        return verdict(True, "equal", "answers are identical", method="identical", **base)
    numeric = _numeric(pred_ans, gold_ans, o, gq) if not o.choices and extracted is not None else None
    for step in (_choice(final, gold_ans, o), numeric):
        if step is not None:
            step["details"] = {**base, **step["details"]}
            return step
    if gq is not None and gq.has_unit and o.units and extracted is not None:
        # A reference with a unit is a quantity: never handed to the symbolic comparison, where the unit
        # would become symbols (62.83*c*m**3).
        out = verdict(False, "parse_error", "the answer could not be read as a quantity", **base)
        return out
    if o.math_verify and not (o.multiple_choice == "off" and choice.letter_of(gold_ans)):
        # (with choices off, an option letter is text: "(B)" is not the symbol B)
        out = _math(final, extracted, gold, o)
    elif _text_equal(pred_ans, gold_ans):
        out = verdict(True, "equal", "answers match as text", method="text")
    elif extracted is None:
        out = verdict(False, "no_answer", "no final answer found")
    else:
        out = verdict(False, "unequal", "answer differs from the reference answer", method="text")
    out["details"] = {**base, **out["details"]}
    return out


def choose_answer(final: str, gq: Quantity | None, o: AnswerOptions) -> tuple[str | None, str]:
    """The final answer of ``final`` and how it was found (``explicit``, ``stated``, ``last_value``).

    The answer the writer marked wins. Otherwise, in a worked solution, the latest stated result, preferring
    one of the reference's kind: a quantity of the reference unit's dimension when it has one, a number
    when it is a number. The preference looks at kinds, never at values, so it cannot pick a value because
    it equals the reference."""
    return extract.find_answer(final, _preference(gq, o))


def _preference(gq: Quantity | None, o: AnswerOptions) -> Any:
    if gq is None:
        return None
    if gq.has_unit and o.units:
        def same_dimension(c: extract.Candidate) -> bool:
            q = _pred_quantity(c.answer, decimal_comma=False) or closed_form_quantity(c.answer)
            return q is not None and q.has_unit and _comparable(q.units, gq.units)
        return same_dimension
    return lambda c: c.numeric


def _comparable(a: Any, b: Any) -> bool:
    """Whether two units measure the same kind of thing (angles and plain ratios are both dimensionless
    to pint, so an angle is only comparable with an angle)."""
    try:
        ureg = units.registry()
        if ureg.Quantity(1, a).dimensionality != ureg.Quantity(1, b).dimensionality:
            return False
        return _is_angle(a) == _is_angle(b)
    except Exception:  # noqa: BLE001
        return False


def _is_angle(u: Any) -> bool:
    """Degrees, radians, arcminutes: units pint reduces to radians."""
    try:
        return "radian" in str(units.registry().Quantity(1, u).to_base_units().units)
    except Exception:  # noqa: BLE001
        return False


_INVERSE_TRIG = re.compile(r"\\(?:arc(?:sin|cos|tan)|(?:sin|cos|tan)\s*\^\s*\{?\s*-\s*1\s*\}?)")


def closed_form_quantity(text: str) -> Quantity | None:
    r"""A closed form with an optional unit after it (``20\pi \mathrm{cm}^3``, ``\frac{\sqrt{3}}{2} m``); an
    inverse trigonometric value (``\cos^{-1}(2/3)``) is an angle in radians. Evaluated by math-verify."""
    text = text.strip()
    if len(text) > 300 or not re.search(r"\\(?:pi|sqrt|frac|arc|sin|cos|tan|ln|log|exp)|e\^", text):
        return None
    split = _unit_suffix(text)
    value_text, unit_text, unit = split if split else (text, "", None)
    from scireflect.tools.verifiers import mathcmp

    try:
        parsed = mathcmp.parse(value_text)
    except mathcmp.TooLarge:
        return None
    value = mathcmp.real_value(parsed[0]) if parsed else None
    if value is None:
        return None
    num = numparse.Num(value, True, False, value_text)
    if unit is None and _INVERSE_TRIG.search(value_text):
        return Quantity(num, "rad", units.registry().parse_units("radian"))
    return Quantity(num, unit_text, unit)


def _unit_suffix(text: str) -> tuple[str, str, Any] | None:
    """(value, unit text, unit) where ``text`` ends in a unit after a closed form; None when it does not."""
    for m in re.finditer(r"(?:\\(?:mathrm|text|rm|mbox)\s*\{|(?<=[\s}\d)])[A-Za-zµΩÅ°])", text):
        rest = text[m.start():]
        unit = units.parse_unit(units.normalize(rest))
        if unit is not None:
            return text[:m.start()].strip(), rest.strip(), unit
    return None


def compare_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Pool task ``answer``: payload ``{"pred", "gold", "options"}``."""
    o = AnswerOptions.build(**(payload.get("options") or {}))
    return compare(str(payload.get("pred", "")), str(payload.get("gold", "")), o)


_WARM = [("3.0 m/s", "300 cm/s"), ("\\frac{1}{2}", "0.5"), ("$x^2+1$", "$1+x^2$"), ("(B)", "B"), ("28\\%", "0.28"),
         ("$[0,1)$", "$(0,1]$"), ("$x \\in [-2,7]$", "$-2 \\le x \\le 7$"), ("$\\{1,2\\}$", "$1,2$"),
         ("$(1,\\frac{9}{2})$", "$(1,4.5)$"), ("$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}$", "$\\begin{pmatrix}1"
         " & 3 \\\\ 2 & 4\\end{pmatrix}$"), ("$y = 2x + 1$", "$2x - y + 1 = 0$"), ("$x \\geq 5$", "$5 \\le x$"),
         ("$\\sqrt{8}$", "$2\\sqrt{2}$"), ("$\\sin^2 x + \\cos^2 x$", "$1$"), ("$1 \\pm \\sqrt{19}$", "$1+\\sqrt{19}$"),
         ("$\\text{Evelyn}$", "$\\text{Briana}$"), ("$k = \\frac{1}{3}$", "$\\frac13$"), ("$e^{i\\pi}$", "$-1$")]


def warm_up() -> None:
    """Run what real requests run (imports, regexes, the LaTeX parser's prediction caches) before the worker
    says it is ready, so the first requests are not several times slower than the rest."""
    o = AnswerOptions()
    for pred, gold in _WARM:
        compare(pred, gold, o)
