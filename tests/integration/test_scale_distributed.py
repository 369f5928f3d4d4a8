"""Several workers on one PostgreSQL store: local worker processes (killed with SIGKILL and resumed with
a different worker count) and the Ray engine on a local cluster. A real PostgreSQL server is started by
the ``postgres_url`` fixture (tests/pg_fixture.py)."""

from __future__ import annotations

import signal

import pytest

from scireflect.testing.openai_server import ServerProcess
from tests.scale_support import cli, finish, make_questions, outcome, query, wait_for, write_questions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 30
STATUS = {"cot": "accepted_cot", "reflection": "accepted_reflection", "with_answer": "accepted_with_answer",
          "rejected": "rejected"}


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale_dist")
    qs = make_questions(N)
    path = write_questions(root / "questions.jsonl", qs)
    with ServerProcess(latency_ms=100, script=str(path)) as srv:
        yield qs, path, srv


def expected(qs):
    return sorted((q.id, STATUS[q.metadata["outcome"]]) for q in qs)


def check(url, qs):
    got = outcome(url)
    assert got["traces"] == expected(qs)
    assert got["trace_dups"] == 0 and got["record_dups"] == 0
    assert len(got["records"]) == sum(q.metadata["outcome"] != "rejected" for q in qs)
    assert query(url, "SELECT count(DISTINCT run_id) FROM traces")[0][0] >= 1


def test_worker_processes_on_postgres_resume_after_kill_9(workload, postgres_url, tmp_path):
    qs, path, srv = workload
    env = {"SCIREFLECT_DATABASE_URL": postgres_url}
    home = tmp_path / "ws"
    proc = cli(home, str(path), "-c", "8", "--workers", "2", url=srv.url, env=env)
    seen = wait_for(postgres_url, "SELECT count(*) FROM traces WHERE status != 'running'", N // 3, proc)
    assert seen >= N // 3
    import os

    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes, as a crash would
    proc.communicate(timeout=60)
    assert query(postgres_url, "SELECT count(*) FROM traces WHERE status = 'running'")[0][0] > 0
    rc, out, err = finish(cli(home, str(path), "-c", "6", "--workers", "3", url=srv.url, env=env))
    assert rc == 0, err
    assert out["counts"]["skipped"] >= N // 3
    check(postgres_url, qs)


def test_ray_engine_on_a_local_cluster_with_postgres(workload, postgres_url, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'scireflect[ray]'")
    qs, path, srv = workload
    env = {"SCIREFLECT_DATABASE_URL": postgres_url, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    rc, out, err = finish(cli(tmp_path / "ws", str(path), "-c", "8", "--engine", "ray", "--workers", "2",
                              url=srv.url, env=env), timeout=400)
    assert rc == 0, err
    assert out["status"] == "finished" and sum(out["counts"][s] for s in set(STATUS.values())) == N
    check(postgres_url, qs)
    assert query(postgres_url, "SELECT count(*) FROM checkpoints")[0][0] == 0  # finished threads are dropped
