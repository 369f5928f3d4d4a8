"""The dataset card: HF front matter, counts from provenance, versions, decontamination, command, license."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from scireflect.schema import Record
from scireflect.settings import Settings
from scireflect.store.card import dataset_card, size_category, verifier_version
from scireflect.training import decontam

COMMAND = "scireflect store export --hf-dataset out/ds --exclude-rejected --min-score 0.5"


def _rec(i: int, stage: str, subject: str, **prov: Any) -> Record:
    provenance = {"question_source": "sciref-mini", "pipeline_version": "p1", "scireflect_version": "0.1.0",
                  "classifier_version": "clf-1", "model": "SmolLM2-135M-Instruct", "provider": "llamacpp",
                  "verdicts": [{"verifier": "answer", "ok": True, "required": True, "reason": "ok", "score": 1.0},
                               {"verifier": "steps", "ok": i % 2 == 0, "required": False, "reason": "x",
                                "score": None}],
                  **prov}
    return Record(trace_id=f"t{i}", question_id=f"q{i}", prompt="p", completion="c", subject=subject, stage=stage,
                  answer_shown=stage == "with_answer", provenance=provenance)


@pytest.fixture
def records() -> list[Record]:
    return [_rec(0, "cot", "physics", pass_rate=0.9), _rec(1, "cot", "physics", pass_rate=0.5),
            _rec(2, "reflection", "chemistry", pass_rate=0.1, pseudo_label=True),
            _rec(3, "with_answer", "chemistry", question_source="scibench", pipeline_version="p2"),
            _rec(4, "cot", "math | algebra")]


def Flag(record_id: str, question_id: str, benchmark: str, item_id: str, method: str, score: float = 0.0,
         evidence: str = "") -> decontam.Flag:
    return decontam.Flag(record_id, question_id, benchmark, item_id, method, score, evidence)


def Report(flags: list[decontam.Flag], checked: int, benchmarks: dict[str, int],
           settings: dict[str, Any] | None = None) -> decontam.DecontamReport:
    return decontam.DecontamReport(flags, checked, benchmarks, settings or {})


def _front_matter(card: str) -> dict[str, Any]:
    m = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert m, card[:200]
    return yaml.safe_load(m.group(1))


def test_front_matter_is_hf_metadata_with_the_license_from_settings(records, settings: Settings) -> None:
    meta = _front_matter(dataset_card(records, settings=settings, command=COMMAND))
    assert meta["license"] == "cc-by-4.0" and meta["size_categories"] == ["n<1K"]
    assert "text-generation" in meta["task_categories"] and meta["language"] == ["en"]
    other = settings.model_copy(update={"dataset_license": "other: see sources"})
    assert _front_matter(dataset_card(records, settings=other, command=COMMAND))["license"] == "other: see sources"
    assert [size_category(n) for n in (0, 999, 1000, 25_000, 10**7)] == ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K",
                                                                         "n>10M"]


def test_counts_by_stage_subject_source_and_difficulty(records, settings: Settings) -> None:
    card = dataset_card(records, settings=settings, command=COMMAND)
    assert "| cot | the first solution, verified | 3 | 60.0% |" in card
    assert "| reflection | revised after a critique, then verified | 1 | 20.0% |" in card
    assert "| with_answer | revised with the reference answer shown, then verified | 1 | 20.0% |" in card
    assert "| physics | 2 | 40.0% |" in card and "| chemistry | 2 | 40.0% |" in card
    assert "| math \\| algebra | 1 | 20.0% |" in card  # a pipe in a value does not break the table
    assert "| sciref-mini | 4 | 80.0% |" in card and "| scibench | 1 | 20.0% |" in card
    assert "Pass rate measured for 3 of 5 records (mean 0.50)" in card
    for row in ("| hard (pass rate < 1/3) | 1 |", "| medium (1/3 to 2/3) | 1 |", "| easy (pass rate >= 2/3) | 1 |",
                "| not measured | 2 |"):
        assert row in card
    assert "Answer shown: 20.0% of the records" in card and "Pseudo-labelled: 20.0% of the records" in card


def test_difficulty_not_measured(settings: Settings) -> None:
    card = dataset_card([_rec(0, "cot", "physics")], settings=settings, command=COMMAND)
    assert "### By difficulty\n\nNot measured" in card and "Pseudo-labelled: 0.0%" in card


def test_versions_of_pipeline_prompts_and_verifiers(records, settings: Settings) -> None:
    from scireflect.agents.prompts import prompt_files_digest
    from scireflect.training.student import load_templates

    card = dataset_card(records, settings=settings, command=COMMAND)
    assert "| pipeline (from the records) | p1 (4), p2 (1) |" in card
    assert "| quality classifier (from the records) | clf-1 (5) |" in card
    assert "SmolLM2-135M-Instruct (llamacpp) (5)" in card
    assert prompt_files_digest()[:12] in card and load_templates(settings).digest in card
    version = verifier_version(settings)
    assert re.fullmatch(r"scireflect \d+\.\d+\.\d+\S*\+[0-9a-f]{12}", version) and version in card
    assert verifier_version(settings.model_copy(update={"tolerance": 0.05})) != version  # options count
    assert "| answer | yes | 5 | 0 |" in card and "| steps | no | 3 | 2 |" in card


def test_decontamination_not_run_and_report(records, settings: Settings) -> None:
    assert "## Decontamination\n\nNot run" in dataset_card(records, settings=settings, command=COMMAND)
    clean = Report(flags=[], checked=5, benchmarks={"scibench-mini": 14})
    card = dataset_card(records, settings=settings, command=COMMAND, decontam=clean)
    assert "5 records were checked against 1 evaluation set(s) (14 items)" in card and "No record was flagged" in card
    report = Report(flags=[Flag("t9", "q9", "scibench-mini", "thermo/1.1", "ngram", 0.92, "work done by 1.00 mol"),
                           Flag("t8", "q8", "mmlu-mini", "astro-1", "embedding", 0.88, "main source of the Sun")],
                    checked=7, benchmarks={"scibench-mini": 14, "mmlu-mini": 16}, settings={"ngram_n": 13})
    card = dataset_card(records, settings=settings, command=COMMAND, decontam=report)
    assert "| scibench-mini | 14 | 1 |" in card and "| mmlu-mini | 16 | 1 |" in card
    assert "| t9 | q9 | scibench-mini | thermo/1.1 | ngram | 0.920 | work done by 1.00 mol |" in card
    assert "embedding (1), ngram (1)" in card and '"ngram_n": 13' in card
    assert "None of the flagged records or their questions is in this dataset." in card
    leaked = Report(flags=[Flag("t1", "q1", "sciref-mini", "phys-101", "minhash")], checked=5, benchmarks={"x": 1})
    assert "**1 flagged record(s) or their questions are in this dataset.**" in dataset_card(
        records, settings=settings, command=COMMAND, decontam=leaked)


def test_exact_command_format_and_extra(records, settings: Settings) -> None:
    card = dataset_card(records, settings=settings, command=COMMAND, export_format="chatml",
                        extra={"passages": False, "filters": {"min_score": 0.5}})
    assert f"```bash\n{COMMAND}\n```" in card
    assert "| format | chatml |" in card and "| passages | false |" in card
    assert '| filters | {"min_score": 0.5} |' in card
    assert "in the `chatml` format" in card and "Each row: `messages`" in card
    assert "## License\n\n`cc-by-4.0`" in card


def test_empty_records_and_same_input_same_card(settings: Settings, records) -> None:
    empty = dataset_card([], settings=settings, command=COMMAND)
    assert _front_matter(empty)["size_categories"] == ["n<1K"] and "0 training records" in empty
    assert dataset_card(records, settings=settings, command=COMMAND) == dataset_card(records, settings=settings,
                                                                                     command=COMMAND)


def test_report_as_a_mapping(records, settings: Settings) -> None:
    report = {"flags": [{"record_id": "t9", "question_id": "q9", "benchmark": "b", "item_id": "1", "method": "ngram"}],
              "checked": 5, "benchmarks": {"b": 3}}
    assert "| t9 | q9 | b | 1 | ngram |" in dataset_card(records, settings=settings, command=COMMAND, decontam=report)
