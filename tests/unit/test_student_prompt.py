"""The student prompt: one template for export and eval, one answer convention, citations, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from scireflect.agents.prompts import load_prompt
from scireflect.agents.reviser import AnswerReviser, Reviser
from scireflect.agents.solver import Solver
from scireflect.errors import ConfigError
from scireflect.evaluation.benchmarks import load_benchmark
from scireflect.evaluation.prompts import PromptBuilder
from scireflect.schema import Chunk, Question
from scireflect.settings import Settings
from scireflect.training.student import PLACEHOLDERS, load_templates, student_completion, student_messages

# The convention every prompt that asks for a final answer states, word for word.
FREE = ('Finish with a line of the form "The answer is \\boxed{ANSWER}", where ANSWER is the final result with '
        'its unit, if it has one, written inside the box.')
CHOICE = ('Finish with a line of the form "The answer is \\boxed{ANSWER}", where ANSWER is the letter of the correct '
          'option.')

Q = Question(id="q1", question="A cart of mass 2.0 kg is pushed with a net force of 6.0 N. What is its acceleration?",
             answer="3.0", unit="m/s^2", subject="physics", type="numeric")
MC = Question(id="q2", question="Which gas do plants absorb?", answer="B", type="multiple_choice",
              choices=["Oxygen", "Carbon dioxide", "Helium"])
PASSAGES = [Chunk(id="c1", text="Newton's second law: F = m a.", source="mechanics.md", page=12)]


@pytest.mark.parametrize("q", [Q, MC], ids=["free", "choice"])
def test_export_and_eval_prompts_are_the_same_text(q: Question, settings: Settings) -> None:
    exported = student_messages(q, settings=settings)
    assert [m["role"] for m in exported] == ["system", "user"]
    assert PromptBuilder(style="cot", settings=settings).messages(q) == exported
    if q.type != "multiple_choice":
        assert q.answer not in exported[1]["content"]  # never the reference answer


def test_eval_sends_the_student_prompt_for_a_benchmark_item(settings: Settings) -> None:
    from scireflect.evaluation.runner import EvalConfig, prepare

    _, items, builder = prepare(settings, EvalConfig(benchmark="sciref-mini", limit=2))
    for q in items:
        assert builder.messages(q) == student_messages(q, settings=settings)
    assert "Give the answer in the unit m/s^2." in builder.messages(items[0])[1]["content"]


def _agent_system(agent_cls: type, q: Question) -> str:
    values = {"question": q.question, "choices": q.choices or [], "chunks": [], "solution": "x = 1",
              "critique": "wrong", "findings": [], "reference_answer": q.gold}
    pair = load_prompt(agent_cls.prompt, agent_cls.inputs)
    return pair.render(**{k: v for k, v in values.items() if k in agent_cls.inputs})[0]


@pytest.mark.parametrize(("q", "sentence"), [(Q, FREE), (MC, CHOICE)], ids=["free", "choice"])
def test_one_answer_convention_in_solver_reviser_and_student_prompts(q: Question, sentence: str) -> None:
    for cls in (Solver, Reviser, AnswerReviser):
        assert sentence in _agent_system(cls, q), cls.__name__
    assert sentence in student_messages(q)[0]["content"]
    assert sentence in PromptBuilder(style="direct").messages(q)[0]["content"]
    assert "do not write the unit" not in student_messages(q)[1]["content"]


def test_few_shot_answers_follow_the_convention(settings: Settings) -> None:
    b = load_benchmark("sciref-mini", settings)
    msgs = PromptBuilder(shots=2, dev=tuple(b.dev), settings=settings).messages(b.items[0])
    answers = [m["content"] for m in msgs if m["role"] == "assistant"]
    ex = PromptBuilder(shots=2, dev=tuple(b.dev)).examples(b.items[0])
    boxed = [f"{e.answer} {e.unit}" if e.unit else e.answer for e in ex]
    assert answers and all(a.endswith(f"\\boxed{{{b}}}.") for a, b in zip(answers, boxed))
    assert any(e.unit for e in ex)
    sci = load_benchmark("scibench-mini", settings)
    ans = PromptBuilder(shots=1, dev=tuple(sci.dev)).messages(sci.items[0])[2]["content"]
    assert ans.endswith("\\boxed{4.92 \\mathrm{atm}}.")  # the LaTeX unit, without its dollars, in the box


def test_passages_only_when_given_and_cited_by_id() -> None:
    bare = student_messages(Q)[1]["content"]
    with_passages = student_messages(Q, passages=PASSAGES)[1]["content"]
    assert "[c1]" not in bare and "Textbook passages" not in bare
    assert "[c1] (mechanics.md, p. 12) Newton's second law" in with_passages and "cite them by id" in with_passages
    assert with_passages.endswith(bare)


@pytest.mark.parametrize(("solution", "expected"), [
    ("By Newton's second law [c1], a = F / m.\nThe answer is \\boxed{3.0 m/s^2}.",
     "By Newton's second law, a = F / m.\nThe answer is \\boxed{3.0 m/s^2}."),
    ("a = F / m = 3.0 m/s^2 (source: c1).", "a = F / m = 3.0 m/s^2."),
    ("As passage [c2] states, p V is constant [c1, c3].", "As the textbook states, p V is constant."),
    ("From passages c1 and c2, x = 2 (see [c1]).", "From the textbook, x = 2."),
    ("v = 4 m/s [0123456789abcdef0123456789abcdef][c4].\nSources: [c1], [c2]\nThe answer is \\boxed{4 m/s}.",
     "v = 4 m/s.\nThe answer is \\boxed{4 m/s}."),
    # Not citations: intervals, concentrations, a quantity named c1.
    ("On [0, 1], [H+] = 1e-7 M and (c1) c1 = 2 M.", "On [0, 1], [H+] = 1e-7 M and (c1) c1 = 2 M."),
])
def test_citations_are_stripped_unless_the_student_gets_the_passages(solution: str, expected: str) -> None:
    assert student_completion(solution, keep_citations=False) == expected
    assert student_completion(solution, keep_citations=True) == solution.strip()


def test_override_dir_replaces_the_templates_it_holds(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "student.user.jinja").write_text("Q: {{ question }}{% if unit %} [{{ unit }}]{% endif %}")
    s = settings.model_copy(update={"student_prompts_dir": tmp_path})
    msgs = student_messages(Q, settings=s)
    assert msgs[1]["content"] == f"Q: {Q.question} [m/s^2]"
    assert msgs[0] == student_messages(Q)[0]  # the system template was not overridden: the packaged one
    assert PromptBuilder(settings=s).messages(Q) == msgs
    assert load_templates(s).origins[1] == str(tmp_path / "student.user.jinja")
    assert PromptBuilder(settings=s).describe()["templates_digest"] != PromptBuilder().describe()["templates_digest"]


def test_override_through_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "student.system.jinja").write_text("Be brief.")
    monkeypatch.setenv("SCIREFLECT_STUDENT_PROMPTS_DIR", str(tmp_path))
    assert student_messages(Q, settings=Settings(home=tmp_path / "ws"))[0]["content"] == "Be brief."


def test_bad_placeholder_is_one_line_naming_the_file(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "student.user.jinja"
    bad.write_text("Problem: {{ question }}\nAnswer: {{ answer }}\n")
    s = settings.model_copy(update={"student_prompts_dir": tmp_path})
    with pytest.raises(ConfigError) as e:
        student_messages(Q, settings=s)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and "unknown placeholders: answer" in msg
    with pytest.raises(ConfigError, match="unknown placeholders: answer"):
        PromptBuilder(settings=s)  # eval fails before any model is loaded
    bad.write_text("{% if question %}unclosed")
    with pytest.raises(ConfigError, match=r"student\.user\.jinja: template syntax error on line 1"):
        student_messages(Q, settings=s)


def test_override_dir_must_exist_and_hold_a_template(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        student_messages(Q, settings=settings.model_copy(update={"student_prompts_dir": tmp_path / "nope"}))
    with pytest.raises(ConfigError, match="holds neither"):
        student_messages(Q, settings=settings.model_copy(update={"student_prompts_dir": tmp_path}))


def test_packaged_templates_are_package_data() -> None:
    t = load_templates()
    assert t.origins == ("training/prompts/student.system.jinja", "training/prompts/student.user.jinja")
    assert {"question", "choices", "unit", "chunks", "style"} == PLACEHOLDERS
    repo = Path(__file__).resolve().parents[2]
    assert (repo / "training" / "prompts" / "student.user.jinja").read_text(encoding="utf-8") == t.user
