"""Decontamination (training/decontam.py) and ``scireflect decontaminate``.

The labelled set: ``tests/data/decontam_bench.jsonl`` (the 70 test items of the bundled minis, copied so
this set does not move when they change) and ``tests/data/decontam_labels.jsonl``: candidate training
questions that are exact copies, light edits (numbers changed, clauses reordered, whitespace/LaTeX/case),
paraphrases, the problem copied into the solution, and clean negatives on the same topics (the same setup
with a different question, or a different problem), which must not be flagged. The default thresholds
were chosen on this set, with the margins named next to them in ``training/decontam.py``; the rates it
asserts are the measured ones less a little, so a small drift fails loudly but noise does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import ConfigError, missing_dependency
from scireflect.schema import Record
from scireflect.training import decontam
from scireflect.training.decontam import Flag, decontaminate, question_text, words

DATA = Path(__file__).resolve().parents[1] / "data"
BENCH = DATA / "decontam_bench.jsonl"
LABELS = DATA / "decontam_labels.jsonl"
NEGATIVE_KINDS = ("neg_setup", "neg_topic")


def record(rid: str, prompt: str, completion: str = "The answer is \\boxed{1}.", qid: str | None = None) -> Record:
    return Record(trace_id=rid, question_id=qid or f"q-{rid}", prompt=prompt, completion=completion, stage="cot")


def has_retrieval() -> bool:
    try:
        decontam.bundled_encoder()
    except (ConfigError, ImportError):
        return False
    return True


# --- the labelled set -------------------------------------------------------------------------------

def labelled_records() -> tuple[list[dict[str, Any]], list[Record]]:
    rows = [json.loads(line) for line in LABELS.read_text().splitlines()]
    return rows, [record(r["id"], r["prompt"], r.get("completion", "The answer is \\boxed{1}.")) for r in rows]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """All three methods at their defaults over the labelled set, run once (MiniLM loads here)."""
    from scireflect.settings import Settings

    rows, recs = labelled_records()
    report = decontaminate(recs, [str(BENCH)], Settings(home=tmp_path_factory.mktemp("decontam")))
    return {"rows": rows, "report": report}


def rates(report: Any, rows: list[dict[str, Any]], method: str | None = None) -> dict[str, float]:
    """Recall per positive kind (flagged with the labelled item) and the false-flag rate of the negatives."""
    flags = [f for f in report.flags if method is None or f.method == method]
    right = {(f.record_id, f.item_id) for f in flags}
    flagged = {f.record_id for f in flags}
    kinds: dict[str, list[bool]] = {}
    for r in rows:
        hit = (r["id"], r["item"]) in right if r["contaminated"] else r["id"] in flagged
        kinds.setdefault(r["kind"] if r["contaminated"] else "false_flags", []).append(hit)
    out = {k: sum(v) / len(v) for k, v in kinds.items()}
    pos = [x for k, v in kinds.items() if k != "false_flags" for x in v]
    out["recall"] = sum(pos) / len(pos)
    return out


def test_labelled_set_lexical_methods(settings: Any) -> None:
    """n-grams and MinHash alone (no model: part of the fast suite)."""
    rows, recs = labelled_records()
    assert sum(r["contaminated"] for r in rows) >= 40 and sum(not r["contaminated"] for r in rows) >= 40
    report = decontaminate(recs, [str(BENCH)], settings, methods=["ngram", "minhash"])
    assert report.checked == len(rows) and report.benchmarks == {str(BENCH): 70}
    ngram, minhash, both = (rates(report, rows, m) for m in ("ngram", "minhash", None))
    assert ngram["false_flags"] == 0 and minhash["false_flags"] == 0  # measured: 0 of 54 each
    for kind in ("exact", "edit_numbers", "edit_format"):
        assert ngram[kind] == 1.0, kind
    assert minhash["edit_reorder"] >= 0.7  # measured 8 of 11
    assert both["edit_reorder"] >= 0.7 and both["paraphrase"] == 0.0


@pytest.mark.slow
@pytest.mark.skipif(not has_retrieval(), reason="the embedding check needs the 'retrieval' extra")
def test_labelled_set_recall_and_false_flags(labelled: dict[str, Any]) -> None:
    """All three methods: 15-50 s on 2 shared cores, most of it MiniLM loading and encoding 300 texts."""
    rows, report = labelled["rows"], labelled["report"]
    table = {m or "combined": rates(report, rows, m) for m in (*decontam.METHODS, None)}
    print("\n" + json.dumps(table, indent=1))  # the numbers the README quotes (pytest -s)
    combined = table["combined"]
    for kind in ("exact", "edit_numbers", "edit_format", "edit_reorder"):
        assert combined[kind] == 1.0, kind  # measured: all 47
    assert combined["paraphrase"] >= 0.55  # measured 11 of 18
    assert combined["recall"] >= 0.85  # measured 59 of 68
    assert combined["false_flags"] <= 1 / 54  # measured: 0 of 54
    assert table["embedding"]["false_flags"] <= 1 / 54 and table["embedding"]["paraphrase"] >= 0.55
    # a flag on a contaminated record names the item it copies
    item_of = {r["id"]: r["item"] for r in rows if r["contaminated"]}
    assert all(f.item_id == item_of[f.record_id] for f in report.flags if f.record_id in item_of)


# --- the methods one by one -------------------------------------------------------------------------

STONE = ("A stone is dropped from rest from a height of 20.0 m. Ignoring air resistance and taking g = 9.81 m/s^2, "
         "how long does it take to reach the ground?")


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    rows = [{"id": "stone", "question": STONE, "answer": "2.02"},
            {"id": "brackets", "question": "Let [x] denote the greatest integer not above x. What is the value of "
                                            "[2.5] + [3.7] + [-1.2] for this bracket function?", "answer": "3"},
            {"id": "sqrt", "question": "Simplify $\\sqrt{50}$.", "answer": "5\\sqrt{2}"}]
    path = tmp_path / "mini.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_words_ignore_latex_case_and_the_numbers() -> None:
    latex = words(r"At $20.0 \mathrm{~m} / \mathrm{s}$, $30^{\circ}$ and $c = 3.00 \times 10^{8}$")[0]
    assert latex == words("AT 25.5 m/s, 30° and c = 3.00 x 10^8")[0]
    assert words("the 2.0 kg cart")[0] == ["the", "#", "kg", "cart"]
    assert words("the 2.0 kg cart")[1] == ["the", "2.0", "kg", "cart"]


def test_question_text_drops_the_options_block() -> None:
    assert question_text("Which planet is largest?\nOptions:\n(A) Mars\n(B) Jupiter") == "Which planet is largest?"
    assert question_text("No options here.") == "No options here."


def test_ngram_finds_a_copy_inside_a_longer_prompt_and_in_the_solution(settings: Any, bench: Path) -> None:
    recs = [record("inside", "Read the passage first.\n\n[1] Free fall near Earth...\n\n" + STONE),
            record("solution", "Solve the stone exercise.", "The exercise says: " + STONE + " So t = 2.02 s."),
            record("edited", STONE.replace("20.0 m", "45.0 m")),
            record("clean", "A stone is thrown upwards at 12 m/s. How high does it rise?")]
    report = decontaminate(recs, [str(bench)], settings, methods=["ngram"])
    by_id = {f.record_id: f for f in report.flags}
    assert set(by_id) == {"inside", "solution", "edited"}
    assert by_id["inside"].evidence.startswith("prompt: A stone is dropped from rest")
    assert by_id["solution"].evidence.startswith("completion: A stone is dropped")
    assert by_id["edited"].score == 1.0 and "45.0" in by_id["edited"].evidence  # numbers are a light edit
    assert all(f.method == "ngram" and f.item_id == "stone" for f in report.flags)
    assert report.settings["methods"] == ["ngram"] and report.settings["ngram_n"]["short"] == 8


def test_ngram_leaves_very_short_items_to_minhash(settings: Any, bench: Path) -> None:
    recs = [record("short", "Simplify $\\sqrt{50}$."), record("other", "Simplify $\\sqrt{72}$ fully, please.")]
    assert decontaminate(recs, [str(bench)], settings, methods=["ngram"]).flags == []
    report = decontaminate(recs, [str(bench)], settings, methods=["minhash"])
    assert {f.record_id for f in report.flags} == {"short"}


def test_ngram_threshold_and_n_are_settable(settings: Any, bench: Path) -> None:
    half = record("setup", STONE.split(" Ignoring")[0] + " What is its speed just before it lands?")
    assert decontaminate([half], [str(bench)], settings, methods=["ngram"]).flags == []
    report = decontaminate([half], [str(bench)], settings, methods=["ngram"], ngram_threshold=0.2, ngram_n=5)
    assert [f.item_id for f in report.flags] == ["stone"]
    assert report.settings["ngram_n"] == 5 and report.settings["ngram_threshold"] == 0.2


def test_minhash_finds_reordered_clauses(settings: Any, bench: Path) -> None:
    moved = ("Ignoring air resistance and taking g = 9.81 m/s^2, how long does it take a stone dropped from rest "
             "from a height of 20.0 m to reach the ground?")
    report = decontaminate([record("moved", moved)], [str(bench)], settings, methods=["minhash"])
    assert [(f.item_id, f.method) for f in report.flags] == [("stone", "minhash")]
    assert 0.8 <= report.flags[0].score <= 1.0
    assert report.flags[0].evidence.startswith("record: Ignoring air") and "| item: A stone" in report.flags[0].evidence


@pytest.mark.skipif(not has_retrieval(), reason="the embedding check needs the 'retrieval' extra")
def test_embedding_finds_a_paraphrase_but_not_a_new_question_on_the_same_setup(settings: Any, bench: Path) -> None:
    para = ("Ignoring air resistance, how long does a stone released from rest 20.0 m above the ground take to "
            "land? Use g = 9.81 m/s^2.")
    sibling = STONE.replace("how long does it take to reach the ground?", "with what speed does it hit the ground?")
    report = decontaminate([record("para", para), record("sibling", sibling)], [str(bench)], settings,
                           methods=["embedding"])
    assert [(f.record_id, f.item_id) for f in report.flags] == [("para", "stone")]
    assert report.flags[0].score >= decontam.EMBEDDING_THRESHOLD


def fake_encoder(calls: list[int]) -> Any:
    import numpy as np

    def encode(texts: list[str]) -> Any:
        calls.append(len(texts))
        vecs = np.array([[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts], dtype=np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    return encode


def test_item_embeddings_are_cached_on_disk(settings: Any, bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(decontam, "bundled_encoder", lambda: fake_encoder(calls))
    monkeypatch.setattr(decontam, "_INDEXES", {})
    run = dict(methods=["embedding"], embedding_threshold=0.9999)  # no pair to compare further
    decontaminate([record("r", "Anything at all?")], [str(bench)], settings, **run)
    assert calls == [1, 3]  # the record, then the three items
    assert list((settings.home / "cache" / "decontam").glob("*.npy"))
    calls.clear()
    monkeypatch.setattr(decontam, "_INDEXES", {})  # a new process: only the disk cache is left
    decontaminate([record("r", "Anything at all?")], [str(bench)], settings, **run)
    assert calls == [1]


def test_embedding_is_skipped_with_a_note_without_the_retrieval_extra(settings: Any, bench: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise missing_dependency("sentence-transformers", "retrieval")

    monkeypatch.setattr(decontam, "bundled_encoder", missing)
    report = decontaminate([record("r", STONE)], [str(bench)], settings)
    assert "pip install 'scireflect[retrieval]'" in report.settings["skipped"]["embedding"]
    assert report.settings["methods"] == ["ngram", "minhash"]
    assert {f.method for f in report.flags} == {"ngram", "minhash"}


def test_bad_arguments_are_config_errors(settings: Any, bench: Path) -> None:
    with pytest.raises(ConfigError, match="unknown decontamination method 'bm25'"):
        decontaminate([], [str(bench)], settings, methods=["bm25"])
    with pytest.raises(ConfigError, match="threshold"):
        decontaminate([], [str(bench)], settings, minhash_threshold=1.5)
    with pytest.raises(ConfigError, match="unknown benchmark 'nonesuch'"):
        decontaminate([], ["nonesuch"], settings)


def test_report_json_has_the_flag_fields(settings: Any, bench: Path) -> None:
    report = decontaminate([record("r", STONE)], [str(bench), str(bench)], settings, methods=["ngram"])
    assert report.benchmarks == {str(bench): 3} and report.checked == 1 and report.flagged_ids() == {"r"}
    assert report.to_json() == [{"record_id": "r", "question_id": "q-r", "benchmark": str(bench), "item_id": "stone",
                                 "method": "ngram", "score": 1.0, "evidence": report.flags[0].evidence}]
    assert isinstance(report.flags[0], Flag) and len(report.flags[0].evidence) <= 300


# --- the command ------------------------------------------------------------------------------------

@pytest.fixture
def workspace(stores: Any, home: Path, bench: Path) -> dict[str, Any]:
    brackets = json.loads(bench.read_text().splitlines()[1])["question"]
    stores.records.add(record("t-copy", STONE, qid="phys-102"))
    stores.records.add(record("t-brackets", brackets, qid="q[x]"))
    stores.records.add(record("t-clean", "What is the boiling point of water at sea level, in kelvin?"))
    return {"home": home, "bench": bench}


LEXICAL = ["--method", "ngram", "--method", "minhash"]


def test_cli_json_lists_the_flagged_records_and_exits_1(workspace: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, ["decontaminate", "--against", str(workspace["bench"]), *LEXICAL, "--json",
                                   "--home", str(workspace["home"])])
    assert res.exit_code == 1, res.output
    flags = json.loads(res.stdout)
    assert {"record_id", "question_id", "benchmark", "item_id", "method"} <= set(flags[0])
    assert {(f["record_id"], f["item_id"]) for f in flags} == {("t-copy", "stone"), ("t-brackets", "brackets")}
    assert {f["benchmark"] for f in flags} == {str(workspace["bench"])}


def test_cli_table_escapes_markup_and_ends_with_the_summary(workspace: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, ["decontaminate", "--against", str(workspace["bench"]), *LEXICAL,
                                   "--home", str(workspace["home"])])
    assert res.exit_code == 1, res.output
    assert "q[x]" in res.stdout  # not eaten as Rich markup
    assert "2 of 3 records flagged against 3 benchmark items" in res.stdout


def test_cli_table_never_cuts_ids_at_80_columns(home: Path, stores: Any, bench: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from scireflect.cli import common

    monkeypatch.setattr(common.console, "width", 80)
    long_id = "scibench-thermo-chapter-07-problem-0042-with-a-very-long-question-identifier"
    stores.records.add(record("trace-0123456789abcdef0123456789abcdef", STONE, qid=long_id))
    res = CliRunner().invoke(app, ["decontaminate", "--against", str(bench), *LEXICAL, "--home", str(home)])
    assert res.exit_code == 1, res.output
    assert long_id in res.stdout and "trace-0123456789abcdef0123456789abcdef" in res.stdout
    assert "ngram 1.00" in res.stdout


def test_cli_exits_0_when_nothing_is_flagged(home: Path, stores: Any, bench: Path) -> None:
    stores.records.add(record("t-clean", "What is the boiling point of water at sea level, in kelvin?"))
    res = CliRunner().invoke(app, ["decontaminate", "--against", str(bench), *LEXICAL, "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "0 of 1 records flagged against 3 benchmark items" in res.stdout


def test_cli_checks_bundled_benchmarks_by_name(workspace: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, ["decontaminate", "--against", "sciref-mini", "--against", "math-mini",
                                   "--method", "ngram", "--json", "--home", str(workspace["home"])])
    assert res.exit_code == 1, res.output
    assert [(f["record_id"], f["benchmark"], f["item_id"]) for f in json.loads(res.stdout)] == [
        ("t-copy", "sciref-mini", "phys-102")]


@pytest.mark.parametrize("args, says", [
    (["--against", "nonesuch"], "unknown benchmark 'nonesuch'"),
    (["--against", "math-mini", "--method", "bm25"], "unknown decontamination method 'bm25'"),
    (["--against", "math-mini", "--threshold", "0.5"], "--threshold 0.5: give it as METHOD=0.5"),
    (["--against", "math-mini", "--threshold", "minhash=2"], "threshold must be in (0, 1]"),
])
def test_cli_bad_usage_exits_2_with_one_line(home: Path, args: list[str], says: str) -> None:
    res = CliRunner().invoke(app, ["decontaminate", *args, "--home", str(home)])
    assert res.exit_code == 2, res.output
    assert says in res.output and len(res.stderr.strip().splitlines()) == 1


def test_cli_missing_extra_warns_or_fails_when_asked_for(workspace: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise missing_dependency("sentence-transformers", "retrieval")

    monkeypatch.setattr(decontam, "bundled_encoder", missing)
    base = ["decontaminate", "--against", str(workspace["bench"]), "--home", str(workspace["home"])]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 1 and "embedding check skipped" in res.stderr
    res = CliRunner().invoke(app, [*base, "--method", "embedding"])
    assert res.exit_code == 2 and "pip install 'scireflect[retrieval]'" in res.stderr
