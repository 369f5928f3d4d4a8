"""Final-answer extraction from free-form model output. Total: returns None, never raises.

Order (the rules of ``../shared/answer_equiv/README.md``): the last ``\\boxed{}``/``\\fbox{}`` (several boxes
joined by "and" or commas at the end form one list answer), else the text after the last "final answer is" /
"the answer is" / "Answer:" (or 答案是), else the last stated value of the last sentence. Only regular
expressions run here, with bounded input, so it is safe on any model output in the main process.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Callable

from scireflect.tools.reasoning import final_response

MAX_INPUT = 200_000
MAX_ANSWER = 2_000

_ANCHOR = re.compile(
    r"(?:final\s+answer|the\s+(?:correct\s+)?answer|(?<![A-Za-z])answer|correct\s+(?:choice|option)|答案是|答案为|答案：)"
    r"(?:\s*(?:is|is\s*:|:|=|：)|(?<=[是为：])|(?=\s*(?:\$|\\\(|\\\[)))\s*", re.IGNORECASE)
_NUMBER_UNIT = re.compile(
    r"[-+−]?(?:\d+\s*/\s*\d+(?!\d|\.\d)|\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*(?:[eE][-+]?\d+|(?:\\times|\\cdot|×|x)\s*10\^\{?[-+−]?\d+\}?))?"
    r"(?:\s*(?:\\[,;! ]|~)?\s*(?:\\(?:mathrm|text|mbox)\{[^{}]*\}|[A-Za-zµμΩÅ°%][A-Za-zµμΩÅ°%/^·*\-{}0-9]*)"
    r"(?:[ \t]?(?:\\(?:mathrm|text|mbox)\{[^{}]*\}|[A-Za-zµμΩÅ°/][A-Za-zµμΩÅ°/^·*\-{}0-9]*)){0,3})?")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_JOIN_GAP = re.compile(r"^(?:\s|,|;|\\quad|\\qquad|\\,|\\text\{[^{}]*\}|\$|\\\)|\\\(|and|or|&)*$")
_NOT_A_LIST = re.compile(r"\b(?:but|gives?|get|then|correct|actually|wait|instead|no|not|so|check)\b", re.I)
# Trailing punctuation; a "!" right after a digit, a bracket or another "!" is a factorial and stays.
_TRAILING = re.compile(r"(?:\s*(?:\.|,|;|(?<![\d)}!\]])!|\\quad)\s*)+$")


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` -> its closing ``}`` (one linear pass; unclosed braces are absent)."""
    pairs, stack = {}, []
    for i, c in enumerate(text):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def _boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every ``\\boxed{..}``/``\\fbox{..}`` (and ``\\boxed 12``), braces balanced."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    pairs = _matching_braces(text)
    spans = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*", text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            j = pairs.get(i)
            if j is not None:
                spans.append((m.start(), j + 1, text[i + 1:j].strip()))
        else:
            w = re.match(r"[^\s$.,;]+", text[i:i + 200])
            if w:
                spans.append((m.start(), i + w.end(), w.group(0)))
    return spans


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}``; None if absent or unclosed."""
    spans = _boxed_spans(text)
    return spans[-1][2] if spans else None


def boxed_answer(text: str) -> str | None:
    """The last box, joined with the boxes just before it when only "and"/commas separate them."""
    spans = _boxed_spans(text)
    if not spans:
        return None
    parts = [spans[-1][2]]
    for prev, cur in zip(reversed(spans[:-1]), reversed(spans[1:])):
        gap = text[prev[1]:cur[0]]
        words = re.sub(r"\\text\{([^{}]*)\}", r" \1 ", gap)
        if len(gap) > 60 or _NOT_A_LIST.search(words):
            break
        if not (_JOIN_GAP.match(gap) or (re.search(r"\b(?:and|or)\b|,", words) and len(words.strip()) <= 40)):
            break
        parts.insert(0, prev[2])
    return ", ".join(p for p in parts if p)


def _clean(ans: str) -> str:
    ans = ans.strip().strip("*").strip()  # markdown emphasis around an answer ("**C.**")
    for _ in range(3):
        ans = re.sub(r"^\$+|\$+$", "", ans).strip()
        ans = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", ans).strip()
        ans = _TRAILING.sub("", ans).strip()
    return ans


def _after_anchor(text: str, after: int = 0) -> str | None:
    matches = [m for m in _ANCHOR.finditer(text) if m.start() >= after]
    for m in reversed(matches):
        rest = text[m.end():m.end() + MAX_ANSWER]
        math = re.match(r"\s*(\$\$.+?\$\$|\$.+?\$|\\\(.+?\\\)|\\\[.+?\\\])", _mask(rest), re.S)
        if math:  # (an escaped dollar inside the maths is a currency sign, not its end)
            ans = _clean(_unmask(math.group(1)))
        else:
            line = rest.split("\n", 1)[0]
            # Up to the end of the sentence: a full stop followed by a space or the end.
            ans = _clean(re.split(r"(?<!\d)\.(?:\s|$)|(?<=\d)\.(?:\s+[A-Z]|\s*$)", line, maxsplit=1)[0])
        if ans:
            return ans[:MAX_ANSWER]
    return None


def _tail(text: str, n: int) -> str:
    """The last ``n`` characters of ``text``, moved past a ``$`` when the cut falls inside inline maths
    (an odd number of unescaped dollars before it), so dollars still pair up."""
    if len(text) <= n:
        return text
    cut = len(text) - n
    if _mask(text[:cut]).count("$") % 2:
        nxt = _mask(text).find("$", cut)
        cut = nxt + 1 if nxt >= 0 else cut
    return text[cut:]


def _last_value(text: str) -> str | None:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    words = re.sub(r"\\(?:begin|end)\s*\{[A-Za-z*]*\}|\\[A-Za-z]+", " ", last)  # LaTeX commands are not prose
    if len(lines) == 1 and "\\boxed" not in last and "\\fbox" not in last and (
            not re.search(r"[A-Za-z]{2,}", words) or len(last) <= 80 and (
            re.match(r"^\W{0,3}[-+−]?\.?\d", last) or not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", words))):
        return _clean(last) or None  # a bare answer ("300 cm/s", "x+1", "3 meters per second", "1+1+...")
    sentences = re.split(r"(?<=[.!?])(?:\$\$|\$|\\\]|\\\))?\s+(?=[A-Z])", _tail(last, 3000))
    for sentence in reversed(sentences[-3:]):
        tail = _tail(sentence, 600)
        maths = [next(g for g in m.groups() if g is not None) for m in _MATH.finditer(tail)]
        if maths:
            return _clean(maths[-1]) or None
        tail = _ASIDE.sub(lambda m: " " * len(m.group(0)), tail)
        values = [m for m in _NUMBER_UNIT.finditer(tail)
                  if not _LABEL_BEFORE.search(tail[max(0, m.start() - 20):m.start()])]
        if values:
            return _clean(values[-1].group(0)) or None
    return None


_CHAT_TOKENS = re.compile(r"<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|start_header_id)\|>")


def _final_text(text: str | None) -> str | None:
    """The final response of ``text``, bounded and without chat-template tails; None when there is none
    (empty, or the output stopped inside its reasoning block)."""
    if not text or not str(text).strip():
        return None
    final = final_response(str(text)[-MAX_INPUT:])
    if final is None or not final.strip():
        return None
    m = _CHAT_TOKENS.search(final)
    if m and m.start() > 0:  # chat-template tokens end the answer; what follows is not the model's
        final = final[:m.start()]
    return final


def explicit_answer(text: str) -> str | None:
    """The answer the writer marked as such: a "Final answer: ..." written after the last box, else the
    box (several joined by "and"/commas form a list), else the last "the answer is ...". None when the
    text marks no answer."""
    spans = _boxed_spans(text)
    anchored = _after_anchor(text, after=spans[-1][1] if spans else 0)
    if anchored and (not spans or re.search(r"[\d\\$]", anchored) or re.fullmatch(r"\(?[A-J]\)?", anchored)):
        return anchored  # "Final answer: ..." written after the last box overrides it
    boxed = boxed_answer(text)
    if boxed:
        return _clean(boxed)[:MAX_ANSWER] or None
    return None


def extract_answer(text: str | None) -> str | None:
    """The final answer of a solution, or None when nothing answer-like is found (see :func:`find_answer`).
    Cached: the graph node, the answer verifier and its in-process quick check each ask for the same text."""
    return _extract_cached(text) if isinstance(text, str) or text is None else find_answer(text)[0]


@functools.lru_cache(maxsize=512)
def _extract_cached(text: str | None) -> str | None:
    return find_answer(text)[0]


def find_answer(text: str | None, prefer: Callable[[Candidate], bool] | None = None) -> tuple[str | None, str]:
    """The final answer of a solution and how it was found: ``explicit``, ``stated``, ``last_value`` or
    ``none`` (then the answer is None).

    Only the final response counts (text after the reasoning block; see :mod:`reasoning`): an output
    that stopped inside its reasoning has no answer. The answer the writer marked wins
    (:func:`explicit_answer`); then, in a worked solution, the latest stated result (:func:`answer_candidates`,
    :func:`pick`, which takes ``prefer``); then the last value of the last line."""
    try:
        final = _final_text(text)
        if final is None:
            return None, "none"
        explicit = explicit_answer(final)
        if explicit:
            return explicit, "explicit"
        if "\n" in final.strip() or len(_STATEMENT.findall(final)) >= 2:
            # a worked solution; a single line with at most one relation is a bare answer
            best = pick(answer_candidates(final), prefer)
            if best is not None:
                return best.answer, "stated"
        last = _last_value(final)
        return last, "last_value" if last else "none"
    except Exception:  # noqa: BLE001 - extraction must be total
        return None, "none"


# -- worked solutions: every stated result is a candidate -----------------------------------------
# Relations whose right side states a value: equality and the approximate relations textbooks use.
RELATION = re.compile(r"(?<![<>!=:\\])=(?![=>])|\\(?:approx|simeq|cong|doteq|thickapprox)(?![A-Za-z])"
                      r"|\\sim(?![A-Za-z])|[≈≅≃∼]")
_SEGMENT = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|\\\[(?P<br>.+?)\\\]"
    r"|\\begin\{(?P<env>equation|align|gather|multline|eqnarray|displaymath|math)(?P<star>\*?)\}(?P<body>.+?)"
    r"\\end\{(?P=env)(?P=star)\}"
    r"|\\\((?P<pa>.+?)\\\)|\$(?P<d>[^$]+?)\$", re.S)
_DISPLAY = ("dd", "br", "body")
_ROW_SPLIT = re.compile(r"\\\\(?![A-Za-z])|\\cr(?![A-Za-z])")
_NUMERIC_START = re.compile(r"^\s*(?:[-+−]\s*)?(?:(?:\\\$|\x01\x01|[€£¥])\s*)?"
                            r"(?:\d|\.\d|\\[dtc]?frac\s*\{\s*[-\d.]|\\sqrt\s*\{?\s*\d|\\pi\b)")
# A units identity or conversion factor ("1 J = 1 N m", "1 atm = 101325 Pa", "10^3 L = 1 m^3"): the whole
# subject is one (or a power of ten) of some unit.
_UNIT_WORD = r"(?:\\(?:mathrm|text|rm|mbox)\s*\{[^{}]*\}|[A-Za-zµμΩÅ°]+(?:_\{?[A-Za-z\\{}]+\}?)?)"
_UNIT_IDENTITY = re.compile(
    r"^\s*(?:1(?:\.0*)?|10\s*\^\s*\{?\s*[-+−]?\d+\s*\}?)(?:\s|~|\\[,;:! ])*" + _UNIT_WORD +
    r"(?:(?:\s|~|\\[,;:! ]|\\cdot|/|\.)*(?:" + _UNIT_WORD + r"|\{\s*\}|\^\s*\{?\s*[-+−]?\d+\s*\}?))*\s*$")
# A remark that recalls a fact rather than stating a result ("where we have used ...", "recall that ...").
_REMARK = re.compile(r"(?:\(\s*using\b|\b(?:we\s+(?:have\s+)?used|(?:have|has|had)\s+been\s+used|recall(?:ing)?\s+"
                     r"that|remember\s+that|note\s+that|noting\s+that|conversion\s+factors?)\b)[^.!?\n]*$", re.I)
# Where the value of a right-hand side ends: prose after it. Inside maths a comma or a spaced full stop can
# belong to the value ("(1, 2)", "600 . K"), so only words and spacing commands end it there.
_CUT_PROSE = re.compile(
    r"\\(?:quad|qquad)(?![A-Za-z])|[,;]\s|\.\s|\.$|\s(?:which|where|and|so|for|if|then|because|thus|when|with)\b",
    re.I)
_CUT_MATH = re.compile(
    r"\\(?:quad|qquad)(?![A-Za-z])|[,;]\s*(?=\\(?:text|mbox|quad|qquad)|(?:where|and|so|which|for|with)\b)"
    r"|\\(?:text|mbox|textrm)\s*\{\s*(?:and|or|for|where|which|so|thus|if|when|i\.e|with|is|in|at|to|as|hence"
    r"|then|giving|by|since|because)\b", re.I)
_STATEMENT = re.compile(r"\$[^$]*(?:=|\\approx|\\cong|\\simeq)[^$]*\$")
_LONE_SYMBOL = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[\w\\{} ]{1,20}\}?)?$")
# Layout commands that carry no value: environment markers, \left/\right delimiters, labels and tags.
_LAYOUT = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z*]+\}(?:\{[^{}]*\})?|\\(?:left|right|big|Big|bigg|Bigg)[lr]?"
                     r"(?![A-Za-z])\.?|\\(?:nonumber|notag|hline|displaystyle)(?![A-Za-z])|\\(?:label|tag)\s*"
                     r"\{[^{}]*\}|\r")
# A sentence that states the conclusion: its values outrank the relations before it.
_CONCLUDES = re.compile(r"\b(?:So|Thus|Then|Therefore|Hence|In\s+(?:conclusion|summary)|This\s+gives)\b")
# Numbers that label rather than state: "Step 7", "Eq. 3", "Table 2.1", "part 2".
_LABEL_BEFORE = re.compile(r"\b(?:steps?|eqn?s?\.?|equations?|tables?|figs?\.?|figures?|parts?|problems?|examples?|"
                           r"lines?|sections?|chapters?|questions?|cases?|options?|rows?|no\.)\s*$", re.I)
_ASIDE = re.compile(r"\((?=[^()]*[A-Za-z]{3,}\s+[A-Za-z]{2,})[^()]{0,200}\)")
_SENTENCE_STOP = re.compile(r"(?<=[^\d\s][.!?])(?:\s|$)|\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?])\s+(?=[A-Z(])|\n\s*\n")


@dataclass(frozen=True)
class Candidate:
    """One stated result of a worked solution.

    ``answer``: the value (with its unit) as written; ``subject``: what it is the value of (the left side
    of the relation; "" when not stated); ``pos``: where the value ends in the text; ``kind``: ``relation``
    (right side of an equality chain), ``approx`` (the value an approximate relation rounds: the side before
    the last ``\\approx`` when that is a number, else the side after it) or ``prose`` (a value stated in the
    last two sentences without a relation); ``note``: a units identity, a conversion factor or a recalled
    fact, which never wins."""

    answer: str
    subject: str
    pos: int
    kind: str
    note: bool = False

    @property
    def numeric(self) -> bool:
        return bool(_NUMERIC_START.match(self.answer))


def _mask(text: str) -> str:
    """``\\$`` (a currency sign) hidden from the math-delimiter scan; positions are unchanged."""
    return text.replace("\\$", "\x01\x01")


def _unmask(text: str) -> str:
    return text.replace("\x01\x01", "\\$")


def _segments(text: str) -> tuple[list[tuple[int, str, bool]], str]:
    """(start, content, display) of every math segment, and the text with the segments blanked out.
    Segments with only spaces between them are one (``$V=0.366$ $\\mathrm{dm}^3$``)."""
    segs: list[tuple[int, str, bool]] = []
    plain = list(text)
    prev_end = -1
    for m in _SEGMENT.finditer(text):
        name = next(k for k in ("dd", "br", "body", "pa", "d") if m.group(k) is not None)
        if segs and prev_end >= 0 and not text[prev_end:m.start()].strip(" \t~") and not segs[-1][2]:
            s0, c0, _ = segs[-1]
            gap = m.start(name) - (s0 + len(c0))
            segs[-1] = (s0, c0 + " " * gap + m.group(name), name in _DISPLAY)
        else:
            segs.append((m.start(name), m.group(name), name in _DISPLAY))
        plain[m.start():m.end()] = [c if c == "\n" else " " for c in text[m.start():m.end()]]
        prev_end = m.end()
    return segs, "".join(plain)


def _trim_value(side: str, math: bool) -> tuple[str, int]:
    """The value at the start of a right-hand side, without trailing prose; (value, its length)."""
    m = (_CUT_MATH if math else _CUT_PROSE).search(side)
    value = side[:m.start()] if m else side
    return _clean(value), len(value.rstrip())


def _trim_subject(side: str) -> str:
    """The subject of a relation in a line of prose: the last few tokens before it."""
    cut = 0
    for m in re.finditer(r"[.,;:!?](?:\s|$)|\b(?:so|thus|then|hence|therefore|we|get|have|is|are|gives|and|that|"
                         r"where|with|find|obtain|equals?|becomes|yields|since|because|of|the|to|from|at)\b|\\quad",
                         side, re.I):
        cut = m.end()
    return side[cut:].strip()[-200:]


def _chains(content: str, start: int, math: bool) -> list[Candidate]:
    """Candidates of one math segment (rows split at ``\\\\``; a row that starts with a relation continues
    the expression above) or of one line of prose."""
    out: list[Candidate] = []
    subject, before = "", ""
    offset = 0
    for raw in (_ROW_SPLIT.split(content) if math else [content]):
        row_start = start + offset
        offset += len(raw) + 2
        row = _LAYOUT.sub(lambda m: " " * len(m.group(0)), raw).replace("&", " ")  # same length: positions hold
        rels = list(RELATION.finditer(row))
        if not rels:
            before += " " + row
            continue
        first = row[:rels[0].start()]
        continues = not first.strip()
        if not continues:
            subject = first.strip()[-200:] if math else _trim_subject(first)
        elif not subject:
            subject = before.strip()[-200:]
        before = ""
        last = rels[-1]
        value, length = _trim_value(row[last.end():], math)
        if not value:
            continue
        pos, kind = row_start + last.end() + length, "relation"
        if len(rels) == 1 and _LONE_SYMBOL.match(value) and _NUMERIC_START.match(first):
            value, subject = _clean(first), value  # "4.86 \times 10^{11} s = t": the value is on the left
        if last.group(0) != "=":
            kind = "approx"
            prev = row[rels[-2].end():last.start()] if len(rels) > 1 else ("" if continues else first)
            if len(rels) > 1 and _NUMERIC_START.match(prev) and not re.search(r"[A-Za-z]{2,}", _strip_units(prev)):
                value = _clean(prev)  # "= 0.3964 \approx 0.40": the unrounded value is the result
        # A units identity is a note only where it is stated, not where a chain computes with it.
        note = not continues and len(rels) == 1 and bool(_UNIT_IDENTITY.match(subject))
        out.append(Candidate(_unmask(value), _unmask(subject), pos, kind, note))
    return out


def _strip_units(text: str) -> str:
    return re.sub(r"\\(?:mathrm|text|rm|mbox)\s*\{[^{}]*\}|\\times|\\cdot|\\pi", " ", text)


def _prose_values(text: str, plain: str, segs: list[tuple[int, str, bool]]) -> list[Candidate]:
    """Values stated in the last two sentences: ``is $0.366 \\mathrm{dm^3}$``, "about 2.5 atmospheres".
    Those of a last sentence that concludes ("Therefore, ...", "So the answer ...") are ``conclusion``s."""
    ends = [m.end() for m in _SENTENCE_END.finditer(plain.rstrip())]
    begin = ends[-2] if len(ends) >= 2 else 0
    markers = list(_CONCLUDES.finditer(plain, max(0, len(plain) - 3000)))
    start = markers[-1].start() if markers else len(plain)
    stop = _SENTENCE_STOP.search(plain, markers[-1].end()) if markers else None
    region = (start, stop.end() if stop else len(plain))
    if RELATION.search(text[region[1]:]):  # a result stated after it: the sentence did not conclude
        region = (len(plain), len(plain))
    begin = min(begin, region[0])

    def kind(pos: int) -> str:
        return "conclusion" if region[0] <= pos < region[1] else "prose"

    out: list[Candidate] = []
    for pos, content, _ in segs:
        if pos < begin or RELATION.search(content):
            continue
        # A symbolic value concludes only where it ends the sentence ("is $(7, 6)$."), not where it is the
        # subject ("the value of $p$ is:").
        ends_sentence = re.match(r"\$*\s*(?:[.!?]|$)", plain[pos + len(content):pos + len(content) + 4])
        if _NUMERIC_START.match(content) or (kind(pos) != "prose" and ends_sentence):
            value = _clean(_LAYOUT.sub(" ", content))
            if value:
                out.append(Candidate(_unmask(value), "", pos + len(content), kind(pos)))
    # Parenthesised remarks ("(correct to 2 decimal places)") state no result.
    plain = _ASIDE.sub(lambda m: " " * len(m.group(0)), plain)
    for m in _NUMBER_UNIT.finditer(plain, begin):
        value = _clean(m.group(0))
        if value and re.search(r"\d", value) and not _LABEL_BEFORE.search(plain[max(0, m.start() - 20):m.start()]):
            out.append(Candidate(_unmask(value), "", m.end(), kind(m.start())))
    return out


def answer_candidates(text: str | None, limit: int = 400) -> list[Candidate]:
    """Every stated result of a worked solution, in text order (at most ``limit``, the last ones kept).

    The right side of each relation chain (``=``, ``\\approx``, ``\\simeq``, ``\\cong``, ``\\sim``, ``≈``) in
    display environments (``aligned``, ``align*``, ``equation``, ``gather``, ``\\[...\\]``, ``$$...$$``), inline
    maths and lines of prose, with ``& =`` rows continuing the row above; and values stated in the last two
    sentences. Only the final response counts (see :mod:`reasoning`). Total; regular expressions only."""
    try:
        final = _final_text(text)
        if final is None:
            return []
        masked = _mask(final)
        segs, plain = _segments(masked)
        cands: list[Candidate] = []
        for pos, content, _ in segs:
            found = _chains(content, pos, math=True)
            if _REMARK.search(plain[max(0, pos - 200):pos]):  # "where we have used $1 J = 1 N m$"
                found = [dataclasses.replace(c, note=True) for c in found]
            cands.extend(found)
        line_start = 0
        for line in plain.split("\n"):
            if RELATION.search(line) and re.search(r"\d", line):
                found = _chains(line, line_start, math=False)
                cands.extend(dataclasses.replace(c, note=True) if _REMARK.search(line[:c.pos - line_start])
                             else c for c in found)
            line_start += len(line) + 1
        cands.extend(_prose_values(masked, plain, segs))
        cands.sort(key=lambda c: c.pos)
        return cands[-limit:]
    except Exception:  # noqa: BLE001 - extraction must be total
        return []


def _tiers(cands: list[Candidate]) -> list[list[Candidate]]:
    """Stated results by strength: values of a concluding last sentence ("Therefore, there are 12 ..."), numbers
    stated by a relation, other values stated in prose, symbolic right-hand sides. A remark after the result
    ("The ionization energy is 13.6 eV") does not override it; a conclusion does."""
    real = [c for c in cands if not c.note]
    stated = [c for c in real if c.kind in ("relation", "approx")]
    return [[c for c in real if c.kind == "conclusion"], [c for c in stated if c.numeric],
            [c for c in real if c.kind == "prose"], [c for c in stated if not c.numeric]]


# How far back a preference may reach in each tier: the final statements ("(a) T = 2.0 s. (b) f = 0.50 Hz"),
# not the data restated at the start, which would otherwise match a reference of its dimension.
PREFER_WINDOW = 3


def pick(cands: list[Candidate], prefer: Callable[[Candidate], bool] | None = None) -> Candidate | None:
    """The stated result: the latest candidate of the strongest tier (see :func:`_tiers`), or, when
    ``prefer`` accepts one of the last :data:`PREFER_WINDOW` of a tier, the latest such (the answer verifier
    prefers values whose dimension matches the reference's unit). Notes never win."""
    tiers = _tiers(cands)
    if prefer is not None:
        for tier in tiers:
            found = next((c for c in reversed(tier[-PREFER_WINDOW:]) if prefer(c)), None)
            if found is not None:
                return found
    for tier in tiers:
        if tier:
            return tier[-1]
    return None
