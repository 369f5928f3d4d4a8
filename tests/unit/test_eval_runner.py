"""The runner with a scripted backend: scoring against fixed model outputs with a known accuracy,
per-item records, resuming an interrupted run, retrying failed items."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import pytest

from scireflect.errors import ConfigError
from scireflect.evaluation.backends import Backend, Generation, Job, OnDone
from scireflect.evaluation.results import EvalStore
from scireflect.evaluation.runner import EvalConfig, evaluate


class FakeBackend(Backend):
    """Answers each item with ``reply(item_id, messages)``; remembers what it was asked."""

    provider = "fake"

    def __init__(self, reply: Callable[[str, list[dict[str, str]]], str | Generation], model: str = "fake-model"):
        self.reply, self.model, self.seen = reply, model, []

    def describe(self) -> dict[str, Any]:
        return {"provider": "fake", "model": self.model, "temperature": 0.0, "max_tokens": 64, "seed": 0}

    def run(self, jobs: Sequence[Job], on_done: OnDone) -> None:
        for item_id, msgs in jobs:
            self.seen.append(item_id)
            out = self.reply(item_id, msgs)
            on_done(item_id, out if isinstance(out, Generation) else Generation(text=out, tokens_out=len(out)))


def boxed(ans: str) -> str:
    return f"Reasoning.\nThe answer is \\boxed{{{ans}}}."


# Fixed outputs for the first items of the examples, with whether each is right.
FIXED = {
    # sciref-mini: bare number in the unit the prompt named; a wrong value; a value with a unit
    "phys-101": (boxed("3.0"), True),
    "phys-102": (boxed("4.04"), False),
    "phys-103": ("P = V^2/R = 144/4\nThe answer is 36 W", True),
    "phys-104": ("I am not sure.", False),  # no answer at all
    "phys-105": (boxed("1.0"), True),
    "phys-106": ("The answer is (B) Linear momentum only.", True),
    "phys-107": (boxed("243"), False),
    "chem-101": (boxed("18.02"), True),
}


def fixed_reply(item_id: str, msgs: list[dict[str, str]]) -> str:
    return FIXED[item_id][0]


def test_scoring_fixed_outputs_gives_known_accuracy(settings):
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=len(FIXED)), backend=FakeBackend(fixed_reply))
    overall = meta["summary"]["overall"]
    assert (overall["n"], overall["correct"]) == (8, 5)
    assert overall["ci_low"] == pytest.approx(0.3057, abs=1e-3) and overall["ci_high"] == pytest.approx(0.8632, abs=1e-3)
    assert meta["summary"]["subjects"]["physics"]["correct"] == 4
    assert meta["status"] == "finished" and meta["counts"] == {"items": 8, "scored": 8, "failed": 0}
    records = EvalStore(settings).read_items(meta["id"])
    for item_id, (_, ok) in FIXED.items():
        assert records[item_id]["ok"] is ok, (item_id, records[item_id])
    r = records["phys-104"]
    assert (r["extracted"], r["reason"]) == (None, "no_answer")
    r = records["phys-101"]
    assert r["prompt"][0]["role"] == "system" and "cart of mass 2.0 kg" in r["prompt"][-1]["content"]
    assert r["output"] == FIXED["phys-101"][0] and r["extracted"] == "3.0" and r["verdict"]["reason"] == "equal"
    assert records["phys-106"]["extracted"] == "B"


def test_every_format_scored_with_the_verifier(settings):
    from scireflect.evaluation.benchmarks import load_benchmark

    for name in ("scibench-mini", "mmlu-mini", "math-mini"):
        gold = {q.id: q.answer for q in load_benchmark(name, settings).items}
        meta = evaluate(settings, EvalConfig(benchmark=name, limit=4), backend=FakeBackend(lambda i, m: boxed(gold[i])))
        assert meta["summary"]["overall"]["correct"] == 4, name
        wrong = evaluate(settings, EvalConfig(benchmark=name, limit=4, run=f"{name}-wrong"),
                         backend=FakeBackend(lambda i, m: boxed("D" if gold[i] != "D" else "A") if name == "mmlu-mini"
                                             else boxed("12345")))
        assert wrong["summary"]["overall"]["correct"] == 0, name


def test_scibench_compares_numbers_in_the_given_unit(settings):
    outputs = {"thermo/1.1": "w = nRT ln 2 = 1717 J\nThe answer is \\boxed{1.70 kJ}",  # within 5%
               "thermo/1.2": boxed("10.6"),  # 6% off: wrong under SciBench's 5%
               "thermo/1.3": boxed("0.4"), "thermo/1.4": boxed("22")}
    meta = evaluate(settings, EvalConfig(benchmark="scibench-mini", limit=4),
                    backend=FakeBackend(lambda i, m: outputs[i]))
    records = EvalStore(settings).read_items(meta["id"])
    assert {i: r["ok"] for i, r in records.items()} == {"thermo/1.1": True, "thermo/1.2": False,
                                                         "thermo/1.3": True, "thermo/1.4": True}
    assert records["thermo/1.1"]["compared"] == "1.70 kJ"  # the answer with its unit, against 1.72 kJ
    assert "unit $\\mathrm{kJ}$" in records["thermo/1.1"]["prompt"][-1]["content"]


def test_resume_after_interrupted_run(settings):
    calls = {"n": 0}

    def dies_after_three(item_id: str, msgs: list[dict[str, str]]) -> str:
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C while item 4 was generating
        calls["n"] += 1
        return boxed("1")

    cfg = EvalConfig(benchmark="sciref-mini", limit=6)
    with pytest.raises(KeyboardInterrupt):
        evaluate(settings, cfg, backend=FakeBackend(dies_after_three))
    store = EvalStore(settings)
    (run_id,) = [m["id"] for m in store.list_runs()]
    assert store.read_meta(run_id)["status"] == "interrupted"
    assert len(store.read_items(run_id)) == 3
    # A kill can also tear the last line; that item is simply done again.
    path = store.dir(run_id) / "items.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:40])

    second = FakeBackend(lambda i, m: boxed("1"))
    meta = evaluate(settings, cfg, backend=second)
    assert meta["id"] == run_id  # the same command resumes the same run
    assert second.seen == ["phys-103", "phys-104", "phys-105", "phys-106"]
    assert meta["status"] == "finished" and meta["counts"]["scored"] == 6
    assert meta["timing"]["generated"] == 4
    third = FakeBackend(lambda i, m: boxed("1"))
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=8), backend=third)
    assert len(third.seen) == 2 and meta["counts"]["scored"] == 8  # a larger --limit extends the run


def test_failed_items_are_stored_and_retried(settings):
    def flaky(item_id: str, msgs: list[dict[str, str]]) -> Generation:
        if item_id == "phys-102":
            return Generation(error="model call failed at http://x: HTTP 500")
        return Generation(text=boxed("3.0"))

    cfg = EvalConfig(benchmark="sciref-mini", limit=3)
    meta = evaluate(settings, cfg, backend=FakeBackend(flaky))
    assert meta["status"] == "incomplete" and meta["counts"]["failed"] == 1 and meta["failed_items"] == ["phys-102"]
    assert meta["summary"]["overall"]["n"] == 2  # a failed generation is not scored as wrong
    again = FakeBackend(lambda i, m: boxed("2.02"))
    meta = evaluate(settings, cfg, backend=again)
    assert again.seen == ["phys-102"] and meta["status"] == "finished" and meta["counts"]["failed"] == 0


def test_changed_settings_do_not_resume_silently(settings):
    evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2, run="mine"), backend=FakeBackend(fixed_reply))
    with pytest.raises(ConfigError, match="different settings"):
        evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2, run="mine", shots=1),
                 backend=FakeBackend(fixed_reply))
    fresh = FakeBackend(fixed_reply)
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2, run="mine", shots=1, fresh=True),
                    backend=fresh)
    assert len(fresh.seen) == 2 and meta["prompt"]["shots"] == 1


def test_run_metadata_records_prompts_and_benchmark(settings, tmp_path):
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": "1", "question": "1+1?", "answer": "2"}\n{broken\n')
    meta = evaluate(settings, EvalConfig(benchmark=str(bad)), backend=FakeBackend(lambda i, m: boxed("2")))
    stored = json.loads((EvalStore(settings).dir(meta["id"]) / "run.json").read_text())
    assert set(stored["prompt"]["templates"]) == {"system", "question", "example_answer"}
    assert stored["prompt"]["templates_digest"] and stored["prompt"]["style"] == "cot"
    assert stored["benchmark"]["skipped"] == [f"{bad}:2: not valid JSON (Expecting property name enclosed in "
                                               "double quotes at column 2)"]
    assert stored["backend"]["model"] == "fake-model" and stored["settings"]["home"]


def test_chat_backend_keeps_going_when_calls_fail(settings):
    from scireflect.errors import ProviderError
    from scireflect.evaluation.backends import ChatBackend
    from tests.conftest import FailingChatModel, fake_model

    backend = ChatBackend(settings, concurrency=2)  # llamacpp; the model file is only opened on a call
    backend.models = [FailingChatModel.make(ProviderError("model call failed: HTTP 400", status=400))]
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2), backend=backend)
    assert meta["counts"] == {"items": 2, "scored": 0, "failed": 2}
    rec = EvalStore(settings).read_items(meta["id"])["phys-101"]
    assert rec["ok"] is None and "HTTP 400" in rec["error"]
    backend.models, backend.concurrency = [fake_model(boxed("3.0"), boxed("2.02"))], 1  # replies in item order
    meta = evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=2), backend=backend)
    assert meta["counts"] == {"items": 2, "scored": 2, "failed": 0}
    assert meta["summary"]["overall"]["correct"] == 2


def test_status_rate_and_eta(monkeypatch):
    import time as _time

    from scireflect.evaluation.backends import Activity
    from scireflect.evaluation.runner import Status

    st = Status(total=10, done=5, resumed=1, started=_time.monotonic() - 10.0)
    assert st.rate() == pytest.approx(0.4, rel=1e-3)  # 4 items this session in 10 s; resumed ones do not count
    assert st.eta_s() == pytest.approx(12.5, rel=1e-3)
    backend = FakeBackend(fixed_reply)
    backend.activity = lambda: Activity(in_flight=2, oldest_s=3.0, partial=1.0)  # type: ignore[method-assign]
    st.backend = backend
    assert st.eta_s() == pytest.approx(8.0, rel=1e-3)  # work on items in flight counts in part
    assert Status(total=3).eta_s() is None


def test_runner_reports_progress_per_item(settings):
    seen = []
    evaluate(settings, EvalConfig(benchmark="sciref-mini", limit=3), backend=FakeBackend(lambda i, m: boxed("1")),
             progress=lambda st: seen.append((st.done, st.total)))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_chat_backend_shows_a_request_waiting_on_a_slow_endpoint(settings, monkeypatch):
    import asyncio
    import threading
    import time as _time
    from types import SimpleNamespace

    from scireflect.evaluation.backends import ChatBackend

    async def slow(model, msgs, settings, url=None):
        await asyncio.sleep(0.6)
        return SimpleNamespace(text=boxed("3.0"), tokens_in=1, tokens_out=1)

    monkeypatch.setattr("scireflect.llm.ainvoke_chat", slow)
    backend = ChatBackend(settings, concurrency=2)
    waits = []

    def watch() -> None:
        for _ in range(8):
            _time.sleep(0.1)
            waits.append(backend.activity())

    t = threading.Thread(target=watch)
    t.start()
    done = []
    backend.run([("a", [{"role": "user", "content": "x"}]), ("b", [{"role": "user", "content": "y"}])],
                lambda i, g: done.append(i))
    t.join()
    assert sorted(done) == ["a", "b"] and backend.activity().in_flight == 0
    busy = [a for a in waits if a.in_flight]
    assert busy and max(a.in_flight for a in busy) == 2
    assert max(a.oldest_s for a in busy) >= 0.3  # the wait grows while the endpoint has not answered


def test_default_threads_are_free_physical_cores(tmp_path, monkeypatch):
    from scireflect import cpu as cpus

    assert cpus.default_threads(cores=2, load=0.1) == 2
    assert cpus.default_threads(cores=2, load=3.6) == 1  # a busy shared machine: never below 1
    assert cpus.default_threads(cores=16, load=4.2) == 12
    # Two cores with two hardware threads each: four logical CPUs, two physical cores.
    for cpu, core in enumerate([0, 0, 1, 1]):
        topo = tmp_path / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text("0\n")
        (topo / "core_id").write_text(f"{core}\n")
    monkeypatch.setattr("scireflect.cpu.SYS_CPU", tmp_path)
    assert cpus.physical_cores({0, 1, 2, 3}) == 2
    assert cpus.physical_cores({0, 2}) == 2 and cpus.physical_cores({0, 1}) == 1
    assert cpus.physical_cores({7}) == 1  # no topology: one core per CPU


def test_in_process_backends_get_the_default_threads(settings, monkeypatch):
    from scireflect.evaluation import backends

    monkeypatch.setattr(backends, "default_threads", lambda: 3)
    be = backends.make_backend("llamacpp", settings)
    assert be.settings.n_threads == 3 and be.describe()["threads"] == 3
    be = backends.make_backend("llamacpp", settings.model_copy(update={"n_threads": 1}))
    assert be.settings.n_threads == 1  # --threads (or the setting) wins
