"""``scireflect eval`` writes its run in lm-evaluation-harness's shape: ``results.json`` with per-task
metrics, stderr, versions, n-shot and configs, and ``samples_TASK_DATE.jsonl`` per task, whose numbers
agree with scireflect's own summary."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from scireflect.evaluation.backends import Generation
from scireflect.evaluation.results import EvalStore, task_names
from scireflect.evaluation.runner import EvalConfig, evaluate
from scireflect.evaluation.stats import sem
from tests.unit.test_eval_runner import FIXED, FakeBackend, boxed, fixed_reply

# The keys lm-evaluation-harness 0.4 writes at the top of results_DATE.json (lm_eval/evaluator.py,
# loggers/evaluation_tracker.py, result_schema.py in 0.4.13), and those of one --log_samples line.
TOP_KEYS = {"results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better", "n-samples",
            "config", "git_hash", "date", "pretty_env_info", "transformers_version", "upper_git_hash", "task_hashes", "model_source", "model_name", "model_name_sanitized",
            "system_instruction", "system_instruction_sha", "fewshot_as_multiturn", "chat_template",
            "chat_template_sha", "start_time", "end_time", "total_evaluation_time_seconds"}
CONFIG_KEYS = {"model", "model_args", "batch_size", "batch_sizes", "device", "use_cache", "limit", "bootstrap_iters",
               "gen_kwargs", "random_seed", "numpy_seed", "torch_seed", "fewshot_seed"}
TASK_CONFIG_KEYS = {"task", "dataset_path", "dataset_name", "test_split", "num_fewshot", "metric_list",
                    "output_type", "generation_kwargs", "repeats", "filter_list", "metadata"}
SAMPLE_KEYS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
               "prompt_hash", "target_hash", "acc"}


def harness_files(settings: Any, run_id: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    d = EvalStore(settings).dir(run_id)
    results = json.loads((d / "results.json").read_text(encoding="utf-8"))
    samples = {}
    for f in sorted(d.glob("samples_*.jsonl")):
        task = f.name.removeprefix("samples_").rsplit("_", 1)[0]  # the harness's own split of its file names
        samples[task] = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
    return results, samples


def test_results_json_has_the_harness_keys_and_agrees_with_the_summary(settings):
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=len(FIXED), shots=1),
                    backend=FakeBackend(fixed_reply))
    results, samples = harness_files(settings, meta["id"])
    assert TOP_KEYS <= set(results) and CONFIG_KEYS <= set(results["config"])
    assert meta["lm_eval_results"].endswith("results.json")

    group, tasks = "sciref_mini", ["sciref_mini_chemistry", "sciref_mini_physics"]
    assert results["group_subtasks"] == {group: tasks} and list(results["results"]) == [group, *tasks]
    assert set(samples) == set(tasks) == set(results["configs"]) == set(results["n-samples"])
    summary = meta["summary"]
    for name, acc in [(group, summary["overall"])] + [(t, summary["subjects"][t.split("_")[-1]]) for t in tasks]:
        entry = results["results"][name]
        assert entry["acc,none"] == pytest.approx(acc["accuracy"]) and entry["sample_len"] == acc["n"]
        stderr = entry["acc_stderr,none"]
        if acc["n"] > 1:
            p = acc["accuracy"]
            assert stderr == pytest.approx(math.sqrt(p * (1 - p) / (acc["n"] - 1)))
        else:
            assert stderr == "N/A"  # as the harness writes an undefined stderr
        assert results["versions"][name] == 1.0 and results["n-shot"][name] == 1
        assert results["higher_is_better"][name] == {"acc": True}
    assert results["results"][group]["acc,none"] == pytest.approx(5 / 8)
    assert results["results"]["sciref_mini_physics"]["alias"] == "physics"  # the harness indents by group_subtasks
    assert results["groups"][group] == results["results"][group]

    # n-samples: effective = the items this run covers (--limit 8), original = the subject's whole benchmark.
    from scireflect.evaluation.benchmarks import load_benchmark

    physics = sum(q.subject == "physics" for q in load_benchmark("sciref-mini", settings).items)
    assert results["n-samples"]["sciref_mini_physics"] == {"original": physics, "effective": 7}
    cfg = results["configs"]["sciref_mini_physics"]
    assert TASK_CONFIG_KEYS <= set(cfg) and cfg["num_fewshot"] == 1 and cfg["dataset_name"] == "physics"
    assert cfg["metric_list"] == [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]
    assert cfg["generation_kwargs"]["max_gen_toks"] == 64 and cfg["metadata"]["version"] == 1.0
    assert results["config"]["model"] == "fake" and results["model_name"] == "fake-model"
    assert results["fewshot_as_multiturn"] is True and results["system_instruction"]


def test_samples_are_the_scored_items(settings):
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=len(FIXED)), backend=FakeBackend(fixed_reply))
    _, samples = harness_files(settings, meta["id"])
    records = EvalStore(settings).read_items(meta["id"])
    rows = [r for task in samples.values() for r in task]
    assert len(rows) == 8 and all(SAMPLE_KEYS <= set(r) for r in rows)
    assert sum(r["acc"] for r in rows) == meta["summary"]["overall"]["correct"]
    physics = samples["sciref_mini_physics"]
    assert [r["doc_id"] for r in physics] == list(range(7))  # file order within the task
    first = physics[0]
    rec = records[first["doc"]["id"]]
    assert first["doc"]["id"] == "phys-101" and first["target"] == rec["gold"]
    assert json.loads(first["arguments"]["gen_args_0"]["arg_0"]) == rec["prompt"]  # the chat messages as sent
    assert first["resps"] == [[FIXED["phys-101"][0]]] and first["filtered_resps"] == [FIXED["phys-101"][0]]
    assert first["acc"] == 1.0
    extra = set(first) - SAMPLE_KEYS
    assert not extra  # the harness's schema reads any other key as a float metric
    assert {r["doc"]["id"]: r["acc"] == 1.0 for r in rows} == {i: ok for i, (_, ok) in FIXED.items()}


def test_failed_items_stay_out_and_a_rerun_rewrites_the_files(settings):
    def flaky(item_id: str, msgs: list[dict[str, str]]) -> Generation:
        return Generation(error="HTTP 500") if item_id == "phys-102" else Generation(text=boxed("3.0"))

    cfg = EvalConfig(benchmark="sciref-mini", limit=3)
    meta = evaluate(settings, cfg, backend=FakeBackend(flaky))
    results, samples = harness_files(settings, meta["id"])
    assert meta["status"] == "incomplete" and results["scireflect"]["status"] == "incomplete"
    physics = results["results"]["sciref_mini_physics"]
    assert physics["sample_len"] == 2 and physics["acc,none"] == pytest.approx(meta["summary"]["overall"]["accuracy"])
    assert results["n-samples"]["sciref_mini_physics"]["effective"] == 3  # the item is in the run, not scored
    assert [r["doc_id"] for r in samples["sciref_mini_physics"]] == [0, 2]

    meta = evaluate(settings, cfg, backend=FakeBackend(lambda i, m: boxed("2.02")))
    d = EvalStore(settings).dir(meta["id"])
    assert len(list(d.glob("samples_*.jsonl"))) == 1  # one set of samples files, the latest
    results, samples = harness_files(settings, meta["id"])
    assert results["results"]["sciref_mini_physics"]["sample_len"] == 3
    assert [r["doc_id"] for r in samples["sciref_mini_physics"]] == [0, 1, 2]
    evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=3, fresh=True), backend=FakeBackend(flaky))
    assert len(list(d.glob("samples_*.jsonl"))) == 1


def test_task_names_are_unique_word_names():
    names = task_names("math_mini", ["Algebra", "algebra", "Counting & Probability", "general"])
    assert names == {"Algebra": "math_mini_algebra", "algebra": "math_mini_algebra_2",
                     "Counting & Probability": "math_mini_counting_probability", "general": "math_mini_general"}


def test_sem_is_the_sample_standard_error_of_a_mean():
    assert sem(1, 1) is None and sem(0, 5) == 0.0
    xs = [1, 1, 0, 0, 0]
    mean = sum(xs) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / 4)
    assert sem(2, 5) == pytest.approx(sd / math.sqrt(5))


def test_cli_run_dir_holds_results_json(home, monkeypatch):
    from typer.testing import CliRunner

    from scireflect.cli import app

    monkeypatch.setattr("scireflect.evaluation.runner.make_backend",
                        lambda provider, settings, **kw: FakeBackend(lambda i, m: boxed("3.0")))
    res = CliRunner().invoke(app, ["eval", "-b", "mmlu-mini", "--limit", "4", "--json"])
    assert res.exit_code == 0, res.output
    meta = json.loads(res.stdout)
    results = json.loads(Path(meta["lm_eval_results"]).read_text())
    assert Path(meta["lm_eval_results"]).parent == home / "eval" / meta["id"]
    assert results["results"]["mmlu_mini"]["sample_len"] == meta["summary"]["overall"]["n"] == 4


def test_a_smaller_limit_keeps_what_the_summary_counts(settings):
    evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=len(FIXED)), backend=FakeBackend(fixed_reply))
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2), backend=FakeBackend(fixed_reply))
    results, samples = harness_files(settings, meta["id"])
    assert results["results"]["sciref_mini"]["sample_len"] == meta["summary"]["overall"]["n"] == 8
    assert sum(len(rows) for rows in samples.values()) == 8


def test_lm_eval_reads_it(settings):
    """With lm-evaluation-harness installed (not a dependency), its own table printer reads the file."""
    pytest.importorskip("pytablewriter")
    utils = pytest.importorskip("lm_eval.utils")
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=len(FIXED)), backend=FakeBackend(fixed_reply))
    results, _ = harness_files(settings, meta["id"])
    table = utils.make_table(results)
    assert "|sciref_mini" in table and "| - physics" in table and "0.6250" in table
    files = [str(p) for p in EvalStore(settings).dir(meta["id"]).iterdir()]
    assert {utils.get_file_task_name(Path(f).name) for f in utils.get_sample_results_filenames(files)} == {
        "sciref_mini_chemistry", "sciref_mini_physics"}
