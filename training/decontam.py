"""Decontamination: flag training records whose question (or solution) repeats an evaluation item.

Three checks, each for what the one before misses: shared word n-grams (verbatim copies, also inside a
longer prompt or restated in the solution), MinHash near-duplicates (light edits that break n-grams),
and MiniLM embedding similarity (paraphrases). ``store export`` and ``train --from-store`` call
:func:`decontaminate`; ``scireflect decontaminate`` reports its flags.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from scireflect.errors import ConfigError, missing_dependency
from scireflect.schema import Record
from scireflect.settings import Settings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

METHODS = ("ngram", "minhash", "embedding")

# Thresholds chosen on the labelled set tests/data/decontam_labels.jsonl (68 contaminated candidates, 54
# clean ones on the same topics; tests/unit/test_decontam.py), each with the highest clean score beside it.
NGRAM_LONG = 13          # n for items of SHORT_BELOW tokens or more ...
NGRAM_SHORT = 8          # ... and for shorter ones, where one edited word leaves no 13-gram intact
SHORT_BELOW = 30         # normalised word tokens (a number is one token): about two short sentences
NGRAM_MIN_TOKENS = 6     # shorter items ("Simplify sqrt 50") would match any variant: left to MinHash
# Share of the item's n-grams found in the record. Any shared n-gram flagged 22 of the 54 clean questions
# (a different question on the same setup shares the setup); clean ones reach 0.62, copies score 1.0.
NGRAM_THRESHOLD = 0.8
MINHASH_THRESHOLD = 0.8  # Jaccard estimate; clean ones reach 0.70, reordered clauses 0.69-0.93
MINHASH_PERM = 128
SHINGLE = 5              # characters of the normalised token string
# The lower of two cosines: whole texts, and the parts in which they differ (see _embedding_hits). On
# whole texts alone clean questions reach 0.93, above most paraphrases; with both they reach 0.78 and
# paraphrases 0.67-0.93 (11 of 18 at 0.82, 13 at 0.80).
EMBEDDING_THRESHOLD = 0.82
EMBEDDING_TOP = 3        # items per record whose differing parts are compared
RESIDUAL_RUN = 4         # words: a run this long that both texts share is copied text, not a paraphrase
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EVIDENCE_CHARS = 300
CHUNK = 512              # records per batch (embeddings are computed a batch at a time)
_TEXT_VERSION = "1"      # bump when the normalisation changes: it is part of the embedding cache key


@dataclass(frozen=True)
class Flag:
    record_id: str        # the record's trace_id (records are keyed by trace id)
    question_id: str
    benchmark: str        # the benchmark name or path as given
    item_id: str          # the matching benchmark item's id
    method: str           # "ngram" | "minhash" | "embedding"
    score: float          # overlap fraction / Jaccard estimate / cosine similarity
    evidence: str         # e.g. the shared 13-gram, or the two texts' starts, <= 300 chars


@dataclass
class DecontamReport:
    flags: list[Flag]
    checked: int                    # records checked
    benchmarks: dict[str, int]      # benchmark -> items compared against
    settings: dict[str, Any]        # n, thresholds, which methods ran

    def flagged_ids(self) -> set[str]:
        return {f.record_id for f in self.flags}

    def to_json(self) -> list[dict]:
        return [asdict(f) for f in self.flags]


# --- text normalisation --------------------------------------------------------------------------

# prompt_of() appends multiple-choice options as "\nOptions:\n(A) ..."; the question is what is compared.
_OPTIONS = re.compile(r"\n\s*Options:[ \t]*\n(?:[ \t]*\([A-Z]\)[^\n]*(?:\n|\Z))+\s*\Z")
_LATEX = re.compile(r"\\([A-Za-z]+)")
_SCI_TIMES = re.compile(r"(\d)\s*[x×]\s*(?=10\b)")  # "3.00 x 10^8" reads as "3.00 \times 10^8"
_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:\.\d+)?")
# Markup that changes how a formula looks, not what it says: dropped.
_FORMATTING = frozenset("""mathrm text textrm textit textbf mathbf mathit mathsf mathcal mathbb operatorname rm bf
    it left right big bigl bigr Big Bigl Bigr frac dfrac tfrac displaystyle textstyle cdot times quad qquad boxed
    mbox hbox limits nolimits ensuremath mathop""".split())
_RENAMED = {"circ": "deg", "degree": "deg", "dbinom": "binom", "tbinom": "binom", "leq": "le", "geq": "ge"}
_UNICODE = str.maketrans({"π": " pi ", "°": " deg ", "×": " x ", "·": " ", "−": "-", "–": "-", "µ": " mu ",
                          "λ": " lambda ", "Δ": " Delta ", "ω": " omega ", "θ": " theta "})
NUM = "#"


def question_text(prompt: str) -> str:
    """The question of a record's prompt, without the options block prompt_of() appends."""
    return _OPTIONS.sub("", prompt).strip()


def _latex_word(m: re.Match[str]) -> str:
    name = m.group(1)
    return " " if name in _FORMATTING else f" {_RENAMED.get(name, name)} "


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    text = _LATEX.sub(_latex_word, text)
    return _SCI_TIMES.sub(r"\1 ", text)


def plain(text: str) -> str:
    """Readable text for the embedding model: LaTeX markup, ``$`` and braces removed."""
    return _unmark(_clean(text))


def _unmark(cleaned: str) -> str:
    return " ".join(re.sub(r"[${}~]|\\[,;! ]", " ", cleaned).split())


def words(text: str) -> tuple[list[str], list[str]]:
    """(normalised tokens, the same tokens as written). Lower case, LaTeX markup dropped, every number
    one token ``#``: a light edit that changes the numbers is still the same problem."""
    norm, cleaned, spans = _tokens(text)
    return norm, [cleaned[a:b] for a, b in spans]


def _tokens(text: str) -> tuple[list[str], str, list[tuple[int, int]]]:
    cleaned = _clean(text)
    found = list(_TOKEN.finditer(cleaned))
    norm = [NUM if m.group()[0].isdigit() else m.group().lower() for m in found]
    return norm, cleaned, [m.span() for m in found]


def _clip(text: str, limit: int = EVIDENCE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- one benchmark, prepared once ----------------------------------------------------------------

@dataclass
class _Ngrams:
    """n-gram -> the items that contain it, grouped by n, with each item's n and number of n-grams."""

    table: dict[int, dict[tuple[str, ...], list[int]]]
    n_of: list[int]
    total: list[int]


@dataclass
class _Index:
    """A benchmark's items, prepared for the three methods (each part built on first use)."""

    digest: str
    ids: list[str]
    texts: list[str]
    tokens: list[list[str]]
    _ngrams: dict[int | None, _Ngrams] = field(default_factory=dict)
    _minhash: Any = None
    _vectors: Any = None

    def ngrams(self, ngram_n: int | None) -> _Ngrams:
        """An item shorter than its n is one n-gram of its own length; one under NGRAM_MIN_TOKENS has none."""
        if ngram_n not in self._ngrams:
            out = _Ngrams({}, [], [])
            for i, toks in enumerate(self.tokens):
                n = ngram_n or (NGRAM_SHORT if len(toks) < SHORT_BELOW else NGRAM_LONG)
                n = min(n, len(toks)) if len(toks) >= NGRAM_MIN_TOKENS else 0
                own = set(_ngrams(toks, n)) if n else set()
                for g in own:
                    out.table.setdefault(n, {}).setdefault(g, []).append(i)
                out.n_of.append(n)
                out.total.append(len(own))
            self._ngrams[ngram_n] = out
        return self._ngrams[ngram_n]


def _ngrams(toks: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    for i in range(len(toks) - n + 1):
        yield tuple(toks[i:i + n])


# One prepared index per benchmark file and content, for the life of the process (as embeddings.py keeps
# one loaded model): export, training and the command may check the same benchmarks more than once.
_INDEXES: dict[tuple[str, str], _Index] = {}


def _index(path: Path, items: Sequence[Any]) -> _Index:
    h = hashlib.sha256(_TEXT_VERSION.encode())
    for q in items:
        h.update(f"{q.id}\x1f{q.question}\x1e".encode())
    digest = h.hexdigest()[:16]
    key = (str(path.resolve()), digest)
    if key not in _INDEXES:
        _INDEXES[key] = _Index(digest=digest, ids=[q.id for q in items], texts=[q.question for q in items],
                               tokens=[words(q.question)[0] for q in items])
    return _INDEXES[key]


# --- the three methods ---------------------------------------------------------------------------

@dataclass
class _Hit:
    item: int
    score: float
    evidence: str


def _ngram_hit(index: _Index, ngram_n: int | None, fields: Sequence[tuple[str, str]],
               threshold: float) -> _Hit | None:
    """The item whose n-grams the record's prompt or completion contains the largest share of."""
    ng = index.ngrams(ngram_n)
    best: _Hit | None = None
    for where, text in fields:
        norm, cleaned, spans = _tokens(text)
        hits: Counter[int] = Counter()
        for n, table in ng.table.items():
            for g in set(_ngrams(norm, n)):
                for i in table.get(g, ()):
                    hits[i] += 1
        for i, k in hits.items():
            score = k / ng.total[i]
            if score >= threshold and (best is None or score > best.score):
                a, b = _shared_run(index.tokens[i], ng.n_of[i], norm)
                best = _Hit(i, score, f"{where}: " + _clip(_unmark(cleaned[spans[a][0]:spans[b - 1][1]])))
    return best


def _shared_run(item: list[str], n: int, norm: list[str]) -> tuple[int, int]:
    """The longest stretch of the record's tokens covered by n-grams it shares with the item."""
    own = set(_ngrams(item, n))
    covered = [False] * len(norm)
    for p, g in enumerate(_ngrams(norm, n)):
        if g in own:
            covered[p:p + n] = [True] * n
    best, start = (0, 0), None
    for p, c in enumerate([*covered, False]):
        if c and start is None:
            start = p
        elif not c and start is not None:
            best = max(best, (start, p), key=lambda r: r[1] - r[0])
            start = None
    return best


def _shingles(toks: Sequence[str]) -> list[bytes]:
    s = " ".join(toks)
    if len(s) <= SHINGLE:
        return [s.encode()]
    return list({s[i:i + SHINGLE].encode() for i in range(len(s) - SHINGLE + 1)})


@functools.lru_cache(maxsize=1 << 20)
def _hash32(shingle: bytes) -> int:
    """datasketch's default hash (the first 4 bytes of SHA-1), cached: shingles repeat across texts."""
    return int.from_bytes(hashlib.sha1(shingle).digest()[:4], "little")


def _datasketch() -> Any:
    try:
        import datasketch
    except ImportError as e:
        raise missing_dependency("datasketch", "scale") from e
    return datasketch


def _lsh(index: _Index, threshold: float) -> tuple[Any, list[Any]]:
    """MinHash signatures of the items and an LSH index that finds candidates a little below the threshold."""
    ds = _datasketch()
    if index._minhash is None:
        sigs = ds.MinHash.bulk([_shingles(t) for t in index.tokens], num_perm=MINHASH_PERM, seed=1, hashfunc=_hash32)
        index._minhash = {"sigs": sigs, "lsh": {}}
    sigs = index._minhash["sigs"]
    lsh_t = round(max(0.1, threshold - 0.1), 2)
    if lsh_t not in index._minhash["lsh"]:
        lsh = ds.MinHashLSH(threshold=lsh_t, num_perm=MINHASH_PERM)
        with lsh.insertion_session() as session:
            for i, m in enumerate(sigs):
                session.insert(i, m)
        index._minhash["lsh"][lsh_t] = lsh
    return index._minhash["lsh"][lsh_t], sigs


def _minhash_hits(index: _Index, questions: Sequence[str], threshold: float) -> list[_Hit | None]:
    lsh, sigs = _lsh(index, threshold)
    mine = _datasketch().MinHash.bulk([_shingles(words(q)[0]) for q in questions], num_perm=MINHASH_PERM, seed=1,
                                      hashfunc=_hash32)
    out: list[_Hit | None] = []
    for q, m in zip(questions, mine):
        best: _Hit | None = None
        for i in lsh.query(m):
            score = m.jaccard(sigs[i])
            if score >= threshold and (best is None or score > best.score):
                best = _Hit(i, score, "")
        if best is not None:
            best.evidence = _pair(q, index.texts[best.item])
        out.append(best)
    return out


def _pair(record_text: str, item_text: str) -> str:
    half = (EVIDENCE_CHARS - 20) // 2
    return _clip(f"record: {_clip(plain(record_text), half)} | item: {_clip(plain(item_text), half)}")


Encoder = Callable[[list[str]], "np.ndarray"]


def bundled_encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2 (never downloaded); ConfigError when the retrieval extra is missing."""
    import numpy as np

    from scireflect.tools.retrieval.embeddings import SentenceTransformerEmbedding

    ef = SentenceTransformerEmbedding(EMBEDDING_MODEL, batch_size=64)

    def encode(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(ef(texts), dtype=np.float32)

    return encode


def _item_vectors(index: _Index, encode: Encoder, settings: Settings) -> "np.ndarray":
    """The items' embeddings: from memory, else from HOME/cache/decontam/, else computed and saved there."""
    import numpy as np

    if index._vectors is None:
        cache = settings.path("cache", "decontam", f"{index.digest}-{EMBEDDING_MODEL}.npy")
        vecs = None
        if cache.is_file():
            try:
                vecs = np.load(cache)
            except (OSError, ValueError):
                vecs = None
        if vecs is None or vecs.shape[0] != len(index.texts):
            vecs = encode([plain(t) for t in index.texts])
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, vecs)
            tmp.replace(cache)
        index._vectors = vecs
    return index._vectors


def _embedding_hits(index: _Index, questions: Sequence[str], vecs: "np.ndarray", threshold: float,
                    encode: Encoder, settings: Settings) -> list[_Hit | None]:
    """Paraphrases: items whose embedding is close to the record's, both for the whole texts and for the
    parts in which they differ. A different question about the same setup copies the setup, which makes
    the whole texts close; what is left after removing the shared runs of words (the question asked)
    is not. A paraphrase shares few runs, so its differing parts are close too."""
    import numpy as np

    items = _item_vectors(index, encode, settings)
    if not len(items) or not len(questions):
        return [None] * len(questions)
    sims = vecs @ items.T
    k = min(EMBEDDING_TOP, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    pairs = [(r, int(i)) for r in range(len(questions)) for i in top[r] if sims[r, i] >= threshold]
    parts = {p: _differing(questions[p[0]], index.texts[p[1]]) for p in pairs}
    texts = sorted({t for a, b in parts.values() if a and b for t in (a, b)})
    vec = dict(zip(texts, encode(texts))) if texts else {}
    out: list[_Hit | None] = [None] * len(questions)
    for (r, i), (a, b) in parts.items():
        rest = float(vec[a] @ vec[b]) if a and b else 1.0  # one text contains the other
        score = min(float(sims[r, i]), rest)
        if score >= threshold and (out[r] is None or score > out[r].score):  # type: ignore[union-attr]
            out[r] = _Hit(i, score, _pair(questions[r], index.texts[i]))
    return out


def _differing(a: str, b: str) -> tuple[str, str]:
    """The words of ``a`` and of ``b`` outside the runs of RESIDUAL_RUN or more words they share."""
    wa, wb = plain(a).split(), plain(b).split()
    sm = difflib.SequenceMatcher(None, [_key(w) for w in wa], [_key(w) for w in wb], autojunk=False)
    keep_a, keep_b = [True] * len(wa), [True] * len(wb)
    for blk in sm.get_matching_blocks():
        if blk.size >= RESIDUAL_RUN:
            keep_a[blk.a:blk.a + blk.size] = [False] * blk.size
            keep_b[blk.b:blk.b + blk.size] = [False] * blk.size
    return (" ".join(w for w, k in zip(wa, keep_a) if k), " ".join(w for w, k in zip(wb, keep_b) if k))


def _key(word: str) -> str:
    return word.lower().strip(".,;:?!()")


# --- the check -----------------------------------------------------------------------------------

def decontaminate(records: Iterable[Record], against: Sequence[str], settings: Settings, *,
                  methods: Sequence[str] = ("ngram", "minhash", "embedding"), ngram_n: int | None = None,
                  minhash_threshold: float = 0.8, embedding_threshold: float | None = None,
                  ngram_threshold: float | None = None) -> DecontamReport:
    """Flag each record whose question matches an item of a benchmark in ``against`` (names or paths).

    A record gets at most one flag per benchmark and method, for its best-matching item. A method whose
    optional dependency is missing is skipped and named in ``report.settings["skipped"]``.
    """
    methods = _checked_methods(methods)
    thresholds = {"ngram": NGRAM_THRESHOLD if ngram_threshold is None else ngram_threshold,
                  "minhash": minhash_threshold,
                  "embedding": EMBEDDING_THRESHOLD if embedding_threshold is None else embedding_threshold}
    for m, t in thresholds.items():
        if not 0.0 < t <= 1.0:
            raise ConfigError(f"the {m} threshold must be in (0, 1], not {t}")
    if ngram_n is not None and ngram_n < 1:
        raise ConfigError(f"n-gram length must be at least 1, not {ngram_n}")
    benches = _benchmarks(against, settings)
    skipped: dict[str, str] = {}
    encoder: Encoder | None = None
    if "minhash" in methods:
        try:
            _datasketch()
        except ConfigError as e:
            skipped["minhash"] = str(e)
    if "embedding" in methods:
        try:
            encoder = bundled_encoder()
        except (ConfigError, ImportError) as e:
            skipped["embedding"] = _reason(e)
    run = _Run(benches, [m for m in methods if m not in skipped], ngram_n, thresholds, encoder, settings, skipped)
    flags: list[Flag] = []
    checked = 0
    for chunk in _chunks(records, CHUNK):
        checked += len(chunk)
        flags.extend(run.check(chunk))
    for m, why in skipped.items():
        log.warning("decontamination: %s check skipped: %s", m, why)
    default_n = {"long": NGRAM_LONG, "short": NGRAM_SHORT, "short_below_tokens": SHORT_BELOW}
    report_settings = {"methods": [m for m in run.methods if m not in skipped], "skipped": skipped,
                       "ngram_n": ngram_n or default_n,
                       "ngram_min_tokens": NGRAM_MIN_TOKENS, "ngram_threshold": thresholds["ngram"],
                       "minhash_threshold": thresholds["minhash"], "minhash_shingle_chars": SHINGLE,
                       "embedding_threshold": thresholds["embedding"], "embedding_model": EMBEDDING_MODEL}
    return DecontamReport(flags=flags, checked=checked, benchmarks={g: len(ix.ids) for g, ix in benches},
                          settings=report_settings)


def _checked_methods(methods: Sequence[str]) -> list[str]:
    if isinstance(methods, str):
        methods = [methods]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown decontamination method {unknown[0]!r}; choose from: {', '.join(METHODS)}")
    if not methods:
        raise ConfigError(f"no decontamination method given; choose from: {', '.join(METHODS)}")
    return list(dict.fromkeys(methods))


def _reason(e: BaseException) -> str:
    if isinstance(e, ImportError):
        return str(missing_dependency(getattr(e, "name", None) or "sentence-transformers", "retrieval"))
    return str(e)


def _benchmarks(against: Sequence[str], settings: Settings) -> list[tuple[str, _Index]]:
    from scireflect.evaluation.benchmarks import load_benchmark

    if isinstance(against, str):
        against = [against]
    if not against:
        raise ConfigError("no benchmark to check against")
    out = []
    for given in dict.fromkeys(against):
        bench = load_benchmark(given, settings)
        out.append((given, _index(bench.path, bench.items)))
    return out


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for r in records:
        chunk.append(r)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Run:
    """One decontamination run: what to compare against and how; ``skipped`` grows if a method fails."""

    benches: list[tuple[str, _Index]]
    methods: list[str]
    ngram_n: int | None
    thresholds: dict[str, float]
    encoder: Encoder | None
    settings: Settings
    skipped: dict[str, str]

    def check(self, chunk: list[Record]) -> list[Flag]:
        questions = [question_text(r.prompt) for r in chunk]
        vecs = None
        if "embedding" in self.methods and "embedding" not in self.skipped and self.encoder is not None:
            try:
                vecs = self.encoder([plain(q) for q in questions])
            except (ConfigError, ImportError) as e:  # the model loads on first use
                self.skipped["embedding"] = _reason(e)
        flags: list[Flag] = []
        for given, index in self.benches:
            for method, hits in self._hits(index, chunk, questions, vecs).items():
                flags.extend(Flag(record_id=rec.trace_id, question_id=rec.question_id, benchmark=given,
                                  item_id=index.ids[hit.item], method=method, score=round(hit.score, 4),
                                  evidence=_clip(hit.evidence))
                             for rec, hit in zip(chunk, hits) if hit is not None)
        return flags

    def _hits(self, index: _Index, chunk: list[Record], questions: list[str],
              vecs: "np.ndarray | None") -> dict[str, list[_Hit | None]]:
        t = self.thresholds
        out: dict[str, list[_Hit | None]] = {}
        if "ngram" in self.methods:
            out["ngram"] = [_ngram_hit(index, self.ngram_n, [("prompt", q), ("completion", r.completion)], t["ngram"])
                            for q, r in zip(questions, chunk)]
        if "minhash" in self.methods:
            out["minhash"] = _minhash_hits(index, questions, t["minhash"])
        if vecs is not None and self.encoder is not None:
            out["embedding"] = _embedding_hits(index, questions, vecs, t["embedding"], self.encoder, self.settings)
        return out
