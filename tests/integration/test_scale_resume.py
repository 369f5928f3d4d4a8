"""`scireflect run` killed with SIGKILL at several points, and stopped with Ctrl-C, then rerun: the final
traces and records equal an uninterrupted run's, with no duplicates (test server, real processes)."""

from __future__ import annotations

import signal

import pytest

from scireflect.testing.openai_server import ServerProcess
from tests.scale_support import cli, finish, make_questions, outcome, sqlite_url, wait_for, write_questions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 40
FINISHED = "SELECT count(*) FROM traces WHERE status != 'running'"


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale_resume")
    qs = make_questions(N)
    qs.append(qs[3].model_copy(update={"id": "dup3", "question": qs[3].question.replace("cart", "Cart")}))
    path = write_questions(root / "questions.jsonl", qs)
    with ServerProcess(latency_ms=120, script=str(path)) as srv:
        yield root, path, srv


@pytest.fixture(scope="module")
def baseline(workload):
    root, path, srv = workload
    home = root / "baseline"
    rc, out, err = finish(cli(home, str(path), "-c", "8", url=srv.url))
    assert rc == 0, err
    assert out["counts"]["duplicate"] == 1
    return outcome(sqlite_url(home))


def test_baseline_is_complete(baseline):
    assert len(baseline["traces"]) == N + 1 and baseline["trace_dups"] == 0
    assert {s for _, s in baseline["traces"]} >= {"accepted_cot", "accepted_reflection", "accepted_with_answer",
                                                  "rejected", "duplicate"}
    assert len(baseline["records"]) == 30 and baseline["record_dups"] == 0
    assert baseline["seq_gaps"] == 0 and baseline["token_mismatch"] == 0 and len(baseline["nodes"]) == N  # the duplicate has none


def test_kill_9_at_several_points_then_rerun_equals_uninterrupted(workload, baseline, tmp_path):
    _, path, srv = workload
    home, url = tmp_path / "killed", sqlite_url(tmp_path / "killed")
    points = [("SELECT count(*) FROM events", 1), (FINISHED, N * 3 // 10), (FINISHED, N * 7 // 10)]
    killed = 0
    for sql, at in points:
        proc = cli(home, str(path), "-c", "8", url=srv.url)
        seen = wait_for(url, sql, at, proc)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        assert seen >= at, f"the run ended before reaching {sql} >= {at}"
    assert killed >= 2, "the runs ended before they could be killed"
    rc, out, err = finish(cli(home, str(path), "-c", "8", url=srv.url))
    assert rc == 0, err
    assert out["counts"]["skipped"] > 0
    assert outcome(url) == baseline


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_cleanly_and_the_rerun_resumes(workload, baseline, tmp_path, sig):
    _, path, srv = workload
    home, url = tmp_path / "ctrlc", sqlite_url(tmp_path / "ctrlc")
    proc = cli(home, str(path), "-c", "8", url=srv.url)
    assert wait_for(url, FINISHED, N // 5, proc) >= N // 5
    proc.send_signal(sig)
    rc, out, err = finish(proc, timeout=60)
    assert rc == 130, err
    assert out["status"] == "interrupted" and out["counts"]["in_flight"] >= 1
    assert "run the same command again to resume" in " ".join(err.split())
    from tests.scale_support import query

    assert query(url, "SELECT status FROM runs") == [("interrupted",)]
    rc, out, err = finish(cli(home, str(path), "-c", "8", url=srv.url))
    assert rc == 0, err
    assert outcome(url) == baseline


def test_a_corrupt_checkpoint_file_is_quarantined_and_the_rerun_completes(workload, baseline, tmp_path):
    _, path, srv = workload
    home, url = tmp_path / "corrupt", sqlite_url(tmp_path / "corrupt")
    proc = cli(home, str(path), "-c", "8", url=srv.url)
    wait_for(url, FINISHED, N // 3, proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    files = sorted((home / "checkpoints").glob("*.sqlite"))
    assert files, "no checkpoint file was written"
    with open(files[0], "r+b") as f:  # the header overwritten, as a torn write after a kill can leave it
        f.write(b"\x00" * 100)
    for side in files[0].parent.glob(files[0].name + "-*"):  # and no write-ahead log that still holds it
        side.unlink()
    rc, out, err = finish(cli(home, str(path), "-c", "8", url=srv.url))
    assert rc == 0, err
    assert list((home / "checkpoints").glob("*.corrupt-*")), "the corrupt file was not moved aside"
    assert outcome(url) == baseline
