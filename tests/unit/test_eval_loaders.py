"""Benchmark loaders on real files: the example benchmark in every format, SciBench's problem files,
malformed records skipped with file and line, and name resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scireflect.errors import ConfigError, InputError
from scireflect.evaluation.benchmarks import available, load_benchmark, split_of
from scireflect.evaluation.formats import detect_format

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "examples" / "benchmarks"
SCIBENCH = Path(__file__).parents[2].parent / "shared" / "scibench"


@pytest.mark.parametrize("name, fmt, n_test, n_dev, subjects", [
    ("sciref-mini", "scireflect", 24, 5, {"physics", "chemistry", "biology", "math", "earth_science"}),
    ("scibench-mini", "scibench", 14, 4, {"thermo", "mechanics", "quantum", "statistics"}),
    ("mmlu-mini", "mmlu", 16, 8, {"college_physics", "college_chemistry", "high_school_biology", "astronomy"}),
    ("math-mini", "math", 16, 4, {"Algebra", "Number Theory", "Geometry"}),
])
def test_example_benchmarks_load_by_name(settings, name, fmt, n_test, n_dev, subjects):
    b = load_benchmark(name, settings)
    assert b.formats == [fmt]
    assert (len(b.items), len(b.dev)) == (n_test, n_dev)
    assert subjects <= {q.subject for q in b.items}
    assert not b.errors
    assert len({q.id for q in b.items}) == len(b.items)


def test_whole_example_folder_mixes_formats(settings):
    b = load_benchmark(str(EXAMPLES), settings)
    assert len(b.items) >= 60
    assert b.formats == ["math", "mmlu", "scibench", "scireflect"]


def test_format_specific_fields(settings):
    sb = {q.id: q for q in load_benchmark("scibench-mini", settings).items}
    q = sb["quantum/3.1"]
    assert (q.answer, q.tolerance, q.unit) == ("3.31", 0.05, None)  # unit only shown, never compared
    assert q.metadata["unit_latex"] == "$10^{-19} \\mathrm{~J}$"
    mm = load_benchmark("mmlu-mini", settings).items[0]
    assert mm.type == "multiple_choice" and len(mm.choices) == 4 and mm.answer in "ABCD"
    math = {q.id: q for q in load_benchmark("math-mini", settings).items}
    assert math["math-mini/counting/2"].answer == "\\frac{3}{28}"  # from the last \boxed{} of the solution
    assert math["math-mini/counting/2"].metadata["level"] == "Level 3"


@pytest.mark.skipif(not SCIBENCH.is_dir(), reason="SciBench problem files not found at ../shared/scibench")
def test_scibench_problem_files(settings):
    b = load_benchmark(str(SCIBENCH), settings)
    assert len(b.items) == 580 and len(b.dev) == 112 and not b.errors
    assert {q.subject for q in b.items} == {"atkins", "chemmc", "quan", "matter", "fund", "class", "thermo",
                                             "calculus", "diff", "stat"}
    assert len({q.id for q in b.items}) == 580  # three repeated problem ids were made unique
    answers = {q.answer for q in b.items}
    assert "65.49" in answers and "89034.79" in answers and "-2" in answers  # "+65.49", "89,034.79", "−2"
    one = load_benchmark(str(SCIBENCH / "atkins.json"), settings)
    assert len(one.items) == 105 and len(one.dev) == 16  # atkins_sol.json is its dev split
    assert all(d.metadata.get("solution") for d in one.dev)


def test_detect_format(tmp_path):
    assert detect_format(EXAMPLES / "sciref-mini.jsonl") == "scireflect"
    assert detect_format(EXAMPLES / "scibench-mini.json") == "scibench"
    assert detect_format(EXAMPLES / "mmlu-mini" / "astronomy_test.csv") == "mmlu"
    assert detect_format(EXAMPLES / "math-mini.jsonl") == "math"
    hf_mmlu = tmp_path / "mmlu.jsonl"
    hf_mmlu.write_text(json.dumps({"question": "q?", "subject": "s", "choices": ["a", "b"], "answer": 1}) + "\n")
    assert detect_format(hf_mmlu) == "mmlu"
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"prompt": "x", "target": "y"}\n')
    with pytest.raises(InputError, match="--format"):
        detect_format(odd)


def test_mmlu_jsonl_with_index_answer(settings, tmp_path):
    f = tmp_path / "physics_test.jsonl"
    f.write_text(json.dumps({"question": "q?", "choices": ["a", "b", "c"], "answer": 2}) + "\n")
    q = load_benchmark(str(f), settings).items[0]
    assert (q.answer, q.subject, q.type) == ("C", "physics", "multiple_choice")


def test_malformed_lines_are_skipped_with_file_and_line(settings, tmp_path):
    f = tmp_path / "bench.jsonl"
    good = {"id": "a", "question": "1+1?", "answer": "2"}
    f.write_text("\n".join([json.dumps(good), "{not json", json.dumps({"id": "b", "question": "q"}),
                            json.dumps({**good, "id": "c"})]) + "\n")
    b = load_benchmark(str(f), settings)
    assert [q.id for q in b.items] == ["a", "c"]
    msgs = [str(e) for e in b.errors]
    assert msgs[0].startswith(f"{f}:2: not valid JSON")
    assert msgs[1].startswith(f"{f}:3: ") and "answer" in msgs[1]


def test_malformed_records_in_other_formats(settings, tmp_path):
    sb = tmp_path / "book.json"
    sb.write_text(json.dumps([{"problem_text": "p", "answer_number": "1.0", "unit": "", "source": "book",
                               "problemid": "1"},
                              {"problem_text": "p2", "answer_number": "about 3", "unit": "", "source": "book",
                               "problemid": "2"}]))
    b = load_benchmark(str(sb), settings)
    assert len(b.items) == 1 and str(b.errors[0]).startswith(f"{sb}: item 2: answer_number")
    csv = tmp_path / "chem_test.csv"
    csv.write_text("What?,a,b,c,d,B\nbroken row,A\nWhich?,a,b,c,d,Z\n")
    b = load_benchmark(str(csv), settings)
    assert len(b.items) == 1
    assert [str(e).split(": ")[0] for e in b.errors] == [f"{csv}:2", f"{csv}:3"]
    mf = tmp_path / "m.jsonl"
    mf.write_text(json.dumps({"problem": "p", "solution": "no box here"}) + "\n"
                  + json.dumps({"problem": "p", "solution": "so \\boxed{3}"}) + "\n")
    b = load_benchmark(str(mf), settings)
    assert len(b.items) == 1 and str(b.errors[0]).startswith(f"{mf}:1: no 'answer'")


def test_file_with_no_valid_items_is_an_error(settings, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text("{oops\n")
    with pytest.raises(InputError, match="no valid items"):
        load_benchmark(str(f), settings)


def test_unknown_benchmark_lists_available(settings):
    with pytest.raises(ConfigError) as e:
        load_benchmark("no-such-bench", settings)
    for name in ("sciref-mini", "scibench-mini", "mmlu-mini", "math-mini"):
        assert name in str(e.value)


def test_named_benchmarks_in_workspace_and_settings(settings, tmp_path):
    (settings.home / "benchmarks").mkdir(parents=True)
    (settings.home / "benchmarks" / "mine.jsonl").write_text('{"id": "1", "question": "q", "answer": "1"}\n')
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "theirs_test.csv").write_text("q,a,b,A\n")
    (extra / "theirs_dev.csv").write_text("q,a,b,B\n")
    s = settings.model_copy(update={"benchmark_dirs": [extra]})
    names = available(s)
    assert {"mine", "theirs", "sciref-mini"} <= names.keys()
    assert "theirs_dev" not in names
    b = load_benchmark("theirs", s)
    assert len(b.items) == 1 and len(b.dev) == 1


def test_split_names():
    assert split_of(Path("x/college_physics_dev.csv")) == "dev"
    assert split_of(Path("x/atkins_sol.json")) == "dev"
    assert split_of(Path("x/sciref-mini.dev.jsonl")) == "dev"
    assert split_of(Path("x/dev/algebra.jsonl")) == "dev"
    assert split_of(Path("x/physics_val.csv")) == "val"
    assert split_of(Path("x/atkins.json")) == "test"
