"""LangGraph checkpointers for resumable batch runs.

SQLite: one database file per worker process under ``HOME/checkpoints/`` (several writers would lock
one file), claimed with an exclusive file lock so two runs on one workspace never share a file.
PostgreSQL: when the store is PostgreSQL, checkpoints go to the same database through a connection
pool (``langgraph-checkpoint-postgres``), so any worker on any node can resume any question.
Deserialisation is restricted to scireflect's own state types.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from scireflect.errors import ConfigError, StoreError, missing_dependency
from scireflect.settings import Settings

log = logging.getLogger(__name__)

# Types stored in the graph state (graph/state.py); nothing else is rebuilt from a checkpoint.
STATE_TYPES = [("scireflect.schema", name) for name in ("Question", "Attempt", "Verdict", "Chunk", "Gate")]


def serializer() -> Any:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres://"))


def _libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` as the plain URL psycopg takes."""
    _, rest = url.split("://", 1)
    return "postgresql://" + rest


class _FileLock:
    """An exclusive, non-blocking lock on ``path`` (released when the process dies, even by kill -9)."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def claim_checkpoint_file(settings: Settings, worker: str) -> tuple[Path, _FileLock]:
    """The first free ``checkpoints/WORKER-N.sqlite`` of the workspace, locked for this process.

    The same worker name gets the same file back after a crash (the lock dies with the process),
    which is what lets a rerun find its in-flight questions' checkpoints.
    """
    for n in range(64):
        path = settings.path("checkpoints", f"{worker}-{n}.sqlite")
        lock = _FileLock(path.with_suffix(".lock"))
        if lock.acquire():
            return path, lock
    raise ConfigError(f"no free checkpoint file under {settings.path('checkpoints', '')}: "
                      "64 runs are already using this workspace")


def quarantine_if_corrupt(path: Path) -> Path | None:
    """Move a checkpoint file SQLite cannot read (say, its header overwritten after a kill) aside, with a
    one-line warning, so the run starts with a fresh file: its in-flight questions start again (their
    traces drop the events no checkpoint counts). Returns where the file went, or None when it was fine."""
    import sqlite3
    import time
    from contextlib import closing

    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            ok = db.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        ok = False
    if ok:
        return None
    moved = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(moved)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(moved.with_name(moved.name + suffix))
    log.warning("checkpoint file %s could not be read and was moved to %s; its in-flight questions start again",
                path, moved)
    return moved


def batched_sqlite_saver(conn: Any, writer: Any, existing: set[str]) -> Any:
    """An ``AsyncSqliteSaver`` for batch runs, tuned for this graph's one node per superstep.

    - Writes go through the batch's TraceWriter: group commit, ordered after the events before them.
    - Only checkpoints that follow a model call are stored; a resume re-runs the cheap nodes after the
      last one (retrieve, verify and gate, or the input when no model call finished yet).
    - A node's ordinary channel writes are not stored (its checkpoint follows at once); errors and
      interrupts are.
    - Reads skip the database for threads it never stored.
    """
    from langgraph.checkpoint.base import WRITES_IDX_MAP, get_checkpoint_metadata
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from scireflect.graph.state import MODEL_OUTPUT_CHANNELS

    class BatchedSqliteSaver(AsyncSqliteSaver):
        async def aget_tuple(self, config: Any) -> Any:
            # A question's first graph call asks for its latest checkpoint; new questions have none,
            # and this file only holds unfinished ones, so the set of thread ids answers without a query.
            if str(config["configurable"]["thread_id"]) not in existing:
                return None
            return await super().aget_tuple(config)

        async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            conf = config["configurable"]
            if not MODEL_OUTPUT_CHANNELS.intersection(new_versions):
                # Not after a model call (input, retrieve): a resume from the checkpoint
                # before it runs those cheap, deterministic nodes again, so storing it buys nothing.
                return {"configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": conf["checkpoint_ns"],
                                         "checkpoint_id": checkpoint["id"]}}
            await self.setup()
            type_, blob = self.serde.dumps_typed(checkpoint)
            meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False).encode("utf-8", "ignore")
            existing.add(str(conf["thread_id"]))
            await writer.acheckpoint(
                "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
                "type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(str(conf["thread_id"]), conf["checkpoint_ns"], checkpoint["id"], conf.get("checkpoint_id"),
                  type_, blob, meta)])
            return {"configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": conf["checkpoint_ns"],
                                     "checkpoint_id": checkpoint["id"]}}

        async def aput_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
            # Every superstep here runs one node, whose checkpoint follows its writes at once, so they would
            # only save re-running that node after a crash in between (its earlier event is then replaced,
            # see graph/resume.py). Errors, interrupts and resume values are what LangGraph needs.
            writes = [w for w in writes if w[0] in WRITES_IDX_MAP]
            if not writes:
                return
            await self.setup()
            conf = config["configurable"]
            rows = [(str(conf["thread_id"]), str(conf["checkpoint_ns"]), str(conf["checkpoint_id"]), task_id,
                     task_path, WRITES_IDX_MAP[channel], channel, *self.serde.dumps_typed(value))
                    for channel, value in writes]
            await writer.acheckpoint(
                "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
                "channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

        async def adelete_thread(self, thread_id: str) -> None:
            await writer.barrier()  # queued writes of the thread land first, then go
            existing.discard(str(thread_id))
            await super().adelete_thread(thread_id)

    return BatchedSqliteSaver(conn, serde=serializer())


@asynccontextmanager
async def open_checkpointer(settings: Settings, worker: str = "local", writer: Any = None) -> AsyncIterator[Any]:
    """A LangGraph async checkpointer for one worker process, closed on exit.

    With a ``writer`` (graph/tracewriter.py), SQLite checkpoint writes are group-committed by it and
    PostgreSQL ones wait for the events queued before them, so checkpoints never run ahead of events.
    """
    url = settings.db_url
    if is_postgres(url):
        async with _postgres(url) as saver:
            if writer is not None:
                _order_after(saver, writer)
            yield saver
        return
    try:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError as e:
        raise missing_dependency("langgraph-checkpoint-sqlite", "scale") from e
    path, lock = claim_checkpoint_file(settings, worker)
    quarantine_if_corrupt(path)
    log.info("checkpoints in %s", path)
    try:
        async with aiosqlite.connect(str(path)) as conn:
            if writer is None:
                saver = AsyncSqliteSaver(conn, serde=serializer())
            else:
                saver = AsyncSqliteSaver(conn)
                await saver.setup()  # tables exist before the writer thread inserts into them
                async with conn.execute("SELECT DISTINCT thread_id FROM checkpoints") as cur:
                    existing = {str(r[0]) for r in await cur.fetchall()}
                writer.attach_checkpoints(path)
                saver = batched_sqlite_saver(conn, writer, existing)
            saver.path = path
            yield saver
    finally:
        lock.release()


def _order_after(saver: Any, writer: Any) -> None:
    """Make a saver's writes wait until the trace events queued before them are committed."""
    aput, aput_writes = saver.aput, saver.aput_writes

    async def ordered_aput(*args: Any, **kwargs: Any) -> Any:
        await writer.barrier()
        return await aput(*args, **kwargs)

    async def ordered_aput_writes(*args: Any, **kwargs: Any) -> Any:
        await writer.barrier()
        return await aput_writes(*args, **kwargs)

    saver.aput, saver.aput_writes = ordered_aput, ordered_aput_writes


@asynccontextmanager
async def _postgres(url: str) -> AsyncIterator[Any]:
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError as e:
        raise missing_dependency(getattr(e, "name", None) or "langgraph-checkpoint-postgres", "postgres") from e
    pool = AsyncConnectionPool(_libpq_url(url), min_size=1, max_size=8, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    try:
        await pool.open(wait=True, timeout=30)
    except Exception as e:  # noqa: BLE001 - psycopg raises PoolTimeout / OperationalError
        raise StoreError(f"cannot open the PostgreSQL checkpoint pool: {type(e).__name__}: {e}") from e
    try:
        saver = AsyncPostgresSaver(pool, serde=serializer())
        await _setup_once(saver)
        yield saver
    finally:
        await pool.close()


async def _setup_once(saver: Any) -> None:
    """Create the checkpoint tables; workers starting together race on it, and one of them wins."""
    import asyncio

    for attempt in range(5):
        try:
            await saver.setup()
            return
        except Exception as e:  # noqa: BLE001 - a concurrent CREATE TABLE or migration row
            if attempt == 4:
                raise StoreError(f"cannot create the checkpoint tables: {type(e).__name__}: {e}") from e
            await asyncio.sleep(0.2 * (attempt + 1))
