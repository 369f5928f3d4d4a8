"""Prompts: package-data templates, strict placeholders, zero/few-shot and chain-of-thought styles."""

from __future__ import annotations

import pytest

from scireflect.errors import ConfigError
from scireflect.evaluation.benchmarks import load_benchmark
from scireflect.evaluation.prompts import TEMPLATES, PromptBuilder, all_templates, check_placeholders, templates
from scireflect.evaluation.runner import EvalConfig, prepare
from scireflect.training.student import load_templates


def test_templates_are_package_data_and_checked():
    texts = templates()
    assert set(texts) == set(TEMPLATES) and all(texts.values())
    with pytest.raises(ConfigError, match="unknown placeholders: question"):
        check_placeholders("example_answer", "{{ question }}: {{ answer }}", TEMPLATES["example_answer"])
    student = load_templates()
    assert all_templates() == {"system": student.system, "question": student.user, **texts}


def test_zero_shot_styles(settings):
    q = load_benchmark("sciref-mini", settings).items[0]
    cot = PromptBuilder(style="cot").messages(q)
    direct = PromptBuilder(style="direct").messages(q)
    assert [m["role"] for m in cot] == ["system", "user"]
    assert "step by step" in cot[0]["content"] and "step by step" in cot[1]["content"]
    assert "step by step" not in direct[1]["content"] and "Write only" in direct[1]["content"]
    # The unit is named, and goes inside the box with the number (the solver's convention).
    assert "Give the answer in the unit m/s^2." in cot[1]["content"] and "unit, if it has one, written inside the box" \
        in cot[0]["content"]
    assert q.answer not in cot[1]["content"]  # the reference answer never reaches the prompt


def test_multiple_choice_lists_options(settings):
    q = load_benchmark("mmlu-mini", settings).items[0]
    user = PromptBuilder().messages(q)[-1]["content"]
    system = PromptBuilder().messages(q)[0]["content"]
    assert "(A) " in user and "(D) " in user and "letter of the correct option" in system


def test_few_shot_is_deterministic_and_prefers_the_subject(settings):
    b = load_benchmark("mmlu-mini", settings)
    pb = PromptBuilder(style="cot", shots=2, seed=0, dev=tuple(b.dev))
    q = b.items[0]
    ex = pb.examples(q)
    assert len(ex) == 2 and all(e.subject == q.subject for e in ex)
    assert [e.id for e in ex] == [e.id for e in PromptBuilder(shots=2, seed=0, dev=tuple(reversed(b.dev))).examples(q)]
    msgs = pb.messages(q)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[2]["content"].endswith(f"\\boxed{{{ex[0].answer}}}.")


def test_few_shot_uses_worked_solutions_and_never_the_item(settings):
    b = load_benchmark("sciref-mini", settings)
    dev_copy = b.dev + [b.items[0]]  # the item itself in the dev pool must not be its own example
    pb = PromptBuilder(style="cot", shots=3, dev=tuple(dev_copy))
    ex = pb.examples(b.items[0])
    assert b.items[0].question not in [e.question for e in ex]
    msgs = pb.messages(b.items[0])
    solved = [m["content"] for m in msgs if m["role"] == "assistant"]
    assert any("=" in s and s.count("\n") >= 1 for s in solved)  # a worked solution, then the answer line
    direct = PromptBuilder(style="direct", shots=3, dev=tuple(dev_copy)).messages(b.items[0])
    assert all(m["content"].startswith("The answer is") for m in direct if m["role"] == "assistant")


def test_shots_without_dev_split_is_a_clear_error(settings, tmp_path):
    f = tmp_path / "nodev.jsonl"
    f.write_text('{"id": "1", "question": "q", "answer": "1"}\n')
    with pytest.raises(ConfigError, match="needs a dev split"):
        prepare(settings, EvalConfig(benchmark=str(f), shots=2))


def test_unknown_style_is_rejected():
    with pytest.raises(ConfigError, match="prompt style"):
        PromptBuilder(style="socratic")
