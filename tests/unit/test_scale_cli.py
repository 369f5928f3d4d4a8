"""`scireflect run` at scale and `scireflect runs` through CliRunner, with the in-process scripted model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import ProviderError
from scireflect.llm_http import HttpChatModel
from tests.scale_support import ScriptedModel, make_questions, write_questions

runner = CliRunner()


@pytest.fixture
def scripted(monkeypatch):
    qs = make_questions(8)
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: ScriptedModel(questions=qs))
    return qs


def test_run_with_concurrency_dedup_and_accounting(home, scripted, tmp_path):
    dup = scripted[0].model_copy(update={"id": "again", "question": scripted[0].question + " "})
    f = write_questions(tmp_path / "q.jsonl", [*scripted, dup])
    res = runner.invoke(app, ["run", str(f), "-c", "4", "--json", "--no-retrieval"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["status"] == "finished"
    assert out["counts"]["duplicate"] == 1 and out["counts"]["accepted_cot"] == 2
    assert set(out["tokens"]) == {"solver", "critic", "reviser"}
    shown = runner.invoke(app, ["runs", "show", out["run_id"]])
    assert shown.exit_code == 0 and "questions/min" in shown.output and "duplicate" in shown.output
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).output)
    assert listed[0]["id"] == out["run_id"]
    again = json.loads(runner.invoke(app, ["run", str(f), "--json", "--no-retrieval"]).output)
    assert again["counts"]["skipped"] == 9


def test_no_dedup_runs_every_question(home, scripted, tmp_path):
    f = write_questions(tmp_path / "q.jsonl", [scripted[0], scripted[0].model_copy(update={"id": "again"})])
    out = json.loads(runner.invoke(app, ["run", str(f), "--json", "--no-dedup", "--no-retrieval"]).output)
    assert "duplicate" not in out["counts"] and out["counts"]["accepted_cot"] == 2


def test_unknown_engine_is_a_usage_error(home, scripted, tmp_path):
    f = write_questions(tmp_path / "q.jsonl", scripted[:1])
    res = runner.invoke(app, ["run", str(f), "--engine", "spark"])
    assert res.exit_code == 2 and "spark" in res.output


def test_http_model_maps_statuses_to_retryable_errors():
    m = HttpChatModel(base_url="http://127.0.0.1:9/v1")
    for status, retry in ((429, True), (503, True), (400, False), (401, False)):
        with pytest.raises(ProviderError) as e:
            m._result(status, b'{"error": "x"}')
        assert e.value.retryable is retry and e.value.status == status
    with pytest.raises(ProviderError) as e:
        m._result(200, b'{"choices": [{"message": ')
    assert e.value.retryable and "malformed" in str(e.value)
    ok = m._result(200, json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode())
    assert ok.generations[0].message.usage_metadata["input_tokens"] == 3


def test_bad_workers_value_is_a_usage_error(home, scripted, tmp_path):
    f = write_questions(tmp_path / "q.jsonl", scripted[:1])
    for bad in ("many", "0", "300"):
        res = runner.invoke(app, ["run", str(f), "--workers", bad])
        assert res.exit_code == 2 and "--workers" in res.output and f"'{bad}'" in res.output


def test_auto_workers_one_process_per_core_only_where_it_pays(home, monkeypatch):
    from scireflect.graph.distributed import resolve_workers
    from scireflect.settings import Settings

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    http = Settings(provider="openai", base_url="http://127.0.0.1:9/v1")
    assert Settings().workers == "auto"
    assert resolve_workers("auto", http, concurrency=128, n_questions=2000) == 2
    assert resolve_workers("auto", http, concurrency=1024, n_questions=20000) == 2  # capped by the cores
    assert resolve_workers("auto", http, concurrency=32, n_questions=2000) == 1  # one loop keeps up
    assert resolve_workers("auto", http, concurrency=128, n_questions=100) == 1  # start-up not worth it
    assert resolve_workers("auto", Settings(provider="llamacpp"), concurrency=128, n_questions=2000) == 1
    assert resolve_workers(3, http, concurrency=8, n_questions=10) == 3  # explicit wins
    monkeypatch.setenv("SCIREFLECT_WORKERS", "4")
    assert Settings().workers == 4


def _ok_body(text: str = "hi") -> tuple[int, bytes]:
    return 200, json.dumps({"choices": [{"message": {"content": text}, "finish_reason": "stop"}], "model": "m",
                            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()


def test_direct_http_call_skips_langchain_only_when_nothing_listens(monkeypatch):
    import asyncio

    from langchain_core.callbacks import AsyncCallbackHandler
    from langchain_core.messages import HumanMessage

    from scireflect.llm import _direct_call, ainvoke_chat
    from scireflect.settings import Settings

    posted: list[bytes] = []

    async def fake_post(self, payload):
        posted.append(payload)
        return _ok_body()

    monkeypatch.setattr(HttpChatModel, "_apost", fake_post)
    starts: list[str] = []

    class Spy(AsyncCallbackHandler):
        async def on_chat_model_start(self, serialized, messages, **kw):  # noqa: ANN001
            starts.append("start")

    plain = HttpChatModel(base_url="http://127.0.0.1:9/v1")
    watched = HttpChatModel(base_url="http://127.0.0.1:9/v1", callbacks=[Spy()])
    assert _direct_call(plain) is not None and _direct_call(watched) is None
    s = Settings()
    msgs = [HumanMessage(content="q")]
    a = asyncio.run(ainvoke_chat(plain, msgs, s))
    b = asyncio.run(ainvoke_chat(watched, msgs, s))
    assert (a.text, a.tokens_in, a.tokens_out, a.model) == (b.text, b.tokens_in, b.tokens_out, b.model) == ("hi", 3, 1, "m")
    assert starts == ["start"] and len(posted) == 2 and posted[0] == posted[1]  # same request either way
    from langchain_core.tracers.context import tracing_v2_callback_var

    token = tracing_v2_callback_var.set(object())  # what `with tracing_v2_enabled():` sets
    try:
        assert _direct_call(plain) is None  # a tracer would see the call: keep LangChain's path
    finally:
        tracing_v2_callback_var.reset(token)
    assert _direct_call(plain) is not None
    from langchain_core.globals import set_debug, set_llm_cache
    from langchain_core.caches import InMemoryCache
    from langchain_core.rate_limiters import InMemoryRateLimiter

    set_debug(True)  # LangChain's console handler would print the run
    try:
        assert _direct_call(plain) is None
    finally:
        set_debug(False)
    set_llm_cache(InMemoryCache())  # a cache would answer repeated prompts
    try:
        assert _direct_call(plain) is None
        assert _direct_call(HttpChatModel(base_url="http://127.0.0.1:9/v1", cache=False)) is not None
    finally:
        set_llm_cache(None)
    limited = HttpChatModel(base_url="http://127.0.0.1:9/v1", rate_limiter=InMemoryRateLimiter())
    assert _direct_call(limited) is None and _direct_call(plain) is not None


def test_auto_workers_on_a_ray_cluster_count_the_clusters_cpus(home, monkeypatch):
    import scireflect.graph.distributed as dist
    from scireflect.schema import Question, Run
    from scireflect.settings import Settings

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    calls: dict = {}

    class FakeRay:
        def __init__(self, running: bool):
            self.running = running

        def is_initialized(self):
            return self.running

        def init(self, **kw):
            calls["init"] = kw
            self.running = True

        def cluster_resources(self):
            return {"CPU": 16.0}

        def shutdown(self):
            calls["shutdown"] = True

    def fake_shards(ray, settings, questions, run, concurrency, workers, *rest):
        calls["workers"] = workers
        return "summary"

    monkeypatch.setattr(dist, "_ray_shards", fake_shards)
    http = Settings(provider="openai", base_url="http://127.0.0.1:9/v1")
    qs = [Question(id=f"q{i}", question=f"q {i}", answer="1") for i in range(600)]
    run = Run(id="r1")
    for address, running, expect in (("ray://head:10001", False, 8), (None, True, 8), (None, False, 2)):
        calls.clear()
        monkeypatch.setattr(dist, "_ray", lambda: FakeRay(running))
        assert dist.run_ray(http, qs, run, concurrency=512, workers="auto", address=address) == "summary"
        assert calls["workers"] == expect, (address, running)  # 16 CPUs, one actor per 64 in flight; local: 2 cores
        if address is None and not running:
            assert calls["init"]["num_cpus"] == 2
    calls.clear()
    monkeypatch.setattr(dist, "_ray", lambda: FakeRay(True))
    dist.run_ray(http, qs, run, concurrency=512, workers="3")
    assert calls["workers"] == 3
