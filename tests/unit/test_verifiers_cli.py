"""``scireflect verify`` exit codes and output, ``scireflect verifiers list``, and the example plugin
package installed for real and found through the ``scireflect.verifiers`` entry-point group."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.schema import Attempt, Question
from scireflect.tools.verifiers import default_registry

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "verifier_plugin"
runner = CliRunner()


@pytest.mark.parametrize("args,code", [
    (["--pred", "2.5 kJ", "--gold", "2500 J"], 0),
    (["--pred", "5 W", "--gold", "5 J"], 1),
    (["--pred", "The answer is (B)", "--gold", "B"], 0),
    (["--pred", "52 atm", "--gold", "50.7 atm", "--tolerance", "0.05"], 0),
    (["--pred", "52 atm", "--gold", "50.7 atm", "-o", "preset=scibench"], 0),
    (["--pred", "$3 \\times 4 = 13$", "--gold", "12", "--verifier", "steps"], 1),
    (["--pred", "1", "--gold", "1", "--verifier", "no-such-verifier"], 2),
    (["--pred", "1", "--gold", "1", "-o", "no_such_option=1"], 2),
    (["--pred", "1", "--gold", "1", "-o", "missing-equals"], 2),
    (["--pred", "1"], 2),
])
def test_verify_exit_codes(args: list[str], code: int) -> None:
    result = runner.invoke(app, ["verify", *args])
    assert result.exit_code == code, result.output


@pytest.mark.parametrize("args,message", [
    (["-o", "rel_tol=abc"], "error: answer option rel_tol: expected a number, got 'abc'"),
    (["-o", "screen=maybe"], "error: answer option screen: expected true or false, got 'maybe'"),
    (["-o", "timeout_s=-1"], "error: answer option timeout_s: must be > 0 and <= 3600, got -1"),
    (["-o", "timeout_s=0"], "error: answer option timeout_s: must be > 0 and <= 3600, got 0"),
    (["-o", "multiple_choice=maybe"], "error: answer option multiple_choice: expected auto, on or off, got 'maybe'"),
    (["-o", "choices=5"], "error: answer option choices: expected a JSON list of texts, got 5"),
    (["-o", "rel_tol=1e999"], "error: answer option rel_tol: expected a finite number, got inf"),
    (["-o", "rel_tol=NaN"], "error: answer option rel_tol: expected a finite number, got nan"),
    (["-o", "rel_tol=true"], "error: answer option rel_tol: expected a number, got True"),
    (["-o", "rel_tol=-1"], "error: answer option rel_tol: must be >= 0, got -1"),
    (["-o", "max_chars=1.5"], "error: answer option max_chars: expected a whole number, got 1.5"),
    (["-o", "preset=[1]"], "error: unknown answer preset [1]; choose from default, scibench, strict_units"),
    (["-o", "no_such_option=1"], "error: unknown answer option(s) no_such_option; known: "),
    (["--tolerance", "inf"], "error: --tolerance: expected a finite number >= 0, got inf"),
    (["--type", "bogus"], "error: invalid question: type: Input should be"),
    (["--verifier", "steps", "-o", "rel_tol=abc"], "error: steps option rel_tol: expected a number, got 'abc'"),
    (["--verifier", "steps", "-o", "timeout_s=-1"], "error: steps option timeout_s: must be > 0 and <= 3600, got -1"),
    (["--verifier", "steps", "-o", "max_claims=1.5"],
     "error: steps option max_claims: expected a whole number, got 1.5"),
    (["--verifier", "steps", "-o", "require_steps=maybe"],
     "error: steps option require_steps: expected true or false, got 'maybe'"),
    (["--verifier", "steps", "-o", "approx_rel_tol=1e999"],
     "error: steps option approx_rel_tol: expected a finite number, got inf"),
    (["--verifier", "steps", "-o", "bogus=1"], "error: unknown steps option(s) bogus; known: rel_tol, "),
])
def test_bad_verifier_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["verify", "--pred", "1", "--gold", "1", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


@pytest.mark.parametrize("args", [
    ["-o", "screen=false"], ["-o", "screen=\"true\""], ["-o", "multiple_choice=true"], ["-o", "rel_tol=\"0.05\""],
    ["-o", "max_chars=1000.0"], ["-o", "tolerance=null"], ["-o", 'choices=["1", 2]'],
    ["--verifier", "steps", "-o", "require_steps=false", "-o", "max_claims=10.0", "-o", "rel_tol=0.02"],
])
def test_good_values_are_coerced_where_nothing_is_lost(args: list[str]) -> None:
    result = runner.invoke(app, ["verify", "--pred", "$1 = 1$", "--gold", "1", *args])
    assert result.exit_code in (0, 1) and not result.stderr, result.output  # a verdict, not a usage error


def test_answer_options_are_coerced_and_checked_by_build() -> None:
    from scireflect.errors import VerifierError
    from scireflect.tools.verifiers.options import AnswerOptions

    o = AnswerOptions.build(screen="false", rel_tol="0.05", max_chars=10.0, multiple_choice=False, choices=["a", 1])
    assert (o.screen, o.rel_tol, o.max_chars, o.multiple_choice, o.choices) == (False, 0.05, 10, "off", ["a", "1"])
    assert isinstance(o.max_chars, int) and AnswerOptions.build(preset="scibench").rel_tol == 0.05
    for bad in ({"timeout_s": float("inf")}, {"tolerance": -0.1}, {"choices": "A,B"}, {"math_verify": 2},
                {"zero_abs_tol": "tiny"}, {"max_answer_chars": 0}, {"rel_tol": "1" * 100}):
        with pytest.raises(VerifierError, match=f"answer option {next(iter(bad))}: "):
            AnswerOptions.build(**bad)


def test_verify_json_output() -> None:
    result = runner.invoke(app, ["verify", "--pred", "300 cm/s", "--gold", "3.0 m/s", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["reason"] == "equal" and data["verifier"] == "answer"
    assert data["details"]["gold_unit"] == "m/s"


def test_verifiers_list() -> None:
    result = runner.invoke(app, ["verifiers", "list", "--json"])
    assert result.exit_code == 0
    names = {v["name"]: v for v in json.loads(result.stdout)["verifiers"]}
    assert {"answer", "steps", "lean"} <= set(names)
    assert names["lean"]["types"] == ["proof"] and names["answer"]["origin"] == "builtin"
    assert runner.invoke(app, ["verifiers", "list"]).exit_code == 0


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the example plugin (no network: no deps, no build isolation) into a private target."""
    src = tmp_path_factory.mktemp("plugin_src") / "verifier_plugin"
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("plugin_site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(src)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return target


def test_example_plugin_is_found_through_entry_points(installed_plugin: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(installed_plugin))
    importlib.invalidate_caches()
    reg = default_registry()
    assert {"keywords", "states_unit"} <= set(reg.names()), reg.load_errors
    assert reg.origin("keywords").startswith("plugin:")
    q = Question(id="q", question="How fast?", answer="60", unit="m/s", type="numeric",
                 metadata={"keywords": ["velocity", "distance"]})
    chosen = {v.name: v for v in reg.for_question(q, names=["answer", "keywords", "states_unit"])}
    assert set(chosen) == {"answer", "keywords", "states_unit"}
    a = Attempt(stage="cot", solution="The velocity is distance over time: \\boxed{60 m/s}")
    assert chosen["keywords"].verify(q, a).ok and chosen["states_unit"].verify(q, a).ok
    bare = Attempt(stage="cot", solution="It is \\boxed{60}")
    verdict = chosen["states_unit"].verify(q, bare)
    assert not verdict.ok and verdict.required is False
    missing = chosen["keywords"].verify(q, bare)
    assert not missing.ok and missing.details["missing"] == ["velocity", "distance"]


def test_example_plugin_in_the_cli(installed_plugin: Path) -> None:
    env_py = f"import sys; sys.path.insert(0, {str(installed_plugin)!r}); from scireflect.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", env_py, "verifiers", "list", "--json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    names = {v["name"] for v in json.loads(out.stdout)["verifiers"]}
    assert {"keywords", "states_unit"} <= names
    out = subprocess.run([sys.executable, "-c", env_py, "verify", "--verifier", "states_unit", "--pred", "60",
                          "--gold", "60 m/s", "--type", "numeric"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
