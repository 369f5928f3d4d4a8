"""Group commit for batch runs: one thread writes trace starts, node events, checkpoints and finishes.

Writes are queued in order and committed many per transaction. Nodes do not wait for their events or
checkpoints to be committed (that would put a database round trip in every question's critical path); order
is what makes a crash safe. Each batch commits two transactions, in this order: trace starts, events,
records and trace finishes; then LangGraph checkpoints and the deletion of finished questions'
checkpoints. So a checkpoint on disk implies the events before it are on disk, a finished trace implies
its record is, and a crash between the two leaves at worst a finished question's checkpoint: a run
killed at any instant resumes without losing or doubling anything: nodes after the last stored checkpoint
run again, and a resumed trace's start deletes their earlier events first (``keep_events``), so each
node of a finished trace appears once. Reads pass through to the wrapped ``TraceStore``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import sqlite3
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from scireflect.errors import StoreError
from scireflect.schema import VERIFIED_STATUSES, Event, Trace, utcnow
from scireflect.store.records import _row as record_row
from scireflect.store.records import record_from_trace
from scireflect.store.tables import events, records, traces
from scireflect.store.traces import _trace_row

log = logging.getLogger(__name__)

_STOP = "stop"
# Statements built once: building one per write costs more than the write (SQLAlchemy cache keys).
_ADD_TOKENS = update(traces).where(traces.c.id == bindparam("tid")).values(
    tokens_in=traces.c.tokens_in + bindparam("tin"), tokens_out=traces.c.tokens_out + bindparam("tout"))
_INSERT_TRACES, _INSERT_EVENTS, _INSERT_RECORDS = insert(traces), insert(events), insert(records)
_KEEP_ON_FINISH = ("id", "tokens_in", "tokens_out", "created_at")  # tokens come from events; creation stays
MAX_BATCH = 2000
HIGH_WATER = 20_000  # queued writes beyond which producers wait for the writer (back-pressure)


def _resolve(futs: list[asyncio.Future], exc: BaseException | None) -> None:
    for f in futs:
        if not f.done():
            f.set_exception(exc) if exc else f.set_result(None)


class TraceWriter:
    """Batched, ordered writer over a TraceStore, the RecordStore and (optionally) a checkpoint file."""

    def __init__(self, store: Any, records: Any = None):
        self.store = store
        self.engine = store.engine
        self.records = records
        self.error: StoreError | None = None  # first failure; the batch stops on it
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._seq: dict[str, int] = {}
        self._new: set[str] = set()  # traces this writer inserted: no record of theirs can exist yet
        self._ckpt_path: Path | None = None
        self._ckpt: sqlite3.Connection | None = None
        self.tokens_in = 0  # totals over the events written by this writer (progress display)
        self.tokens_out = 0
        self._thread = threading.Thread(target=self._loop, name="scireflect-trace-writer", daemon=True)
        self._thread.start()

    def __getattr__(self, name: str) -> Any:  # reads (get, find, list, token_totals, ...) pass through
        return getattr(self.store, name)

    # --- producer side (event loop) ---------------------------------------------------------
    def _put(self, kind: str, payload: Any, wait: bool = False) -> asyncio.Future | None:
        if self.error is not None:
            raise self.error
        if not self._thread.is_alive():
            raise StoreError("the trace writer has stopped")
        fut = asyncio.get_running_loop().create_future() if wait else None
        self._q.put((kind, payload, fut))
        return fut

    async def _maybe_wait(self) -> None:
        if self._q.qsize() > HIGH_WATER:
            await self.barrier()

    async def barrier(self) -> None:
        """Return once everything queued before it is committed."""
        await self._put("barrier", None, wait=True)  # type: ignore[misc]

    async def astart(self, trace: Trace, resumed: bool = False, keep_events: int | None = None) -> None:
        """Insert the trace (or, resumed, mark it running again under this run) before its first event.
        ``keep_events``: for a resumed trace, delete its events after this sequence number (their nodes
        run again) and take their tokens off the trace's totals."""
        self._put("start", (trace, resumed, keep_events))
        await self._maybe_wait()

    async def aadd_event(self, event: Event) -> Event:
        self.tokens_in += event.tokens_in
        self.tokens_out += event.tokens_out
        self._put("event", event)
        await self._maybe_wait()
        return event

    async def afinish(self, trace: Trace, drop_thread: str | None = None) -> None:
        """Store the accepted trace's record, then its final state; then drop its checkpoints."""
        self._put("finish", trace)
        if drop_thread is not None and self._ckpt_path is not None:
            self._put("drop", drop_thread)
        await self._maybe_wait()

    async def acheckpoint(self, sql: str, rows: list[tuple]) -> None:
        """A checkpoint write, queued like an event and committed after the events queued before it.
        Not awaited: LangGraph waits for a graph's checkpoints before its call returns, and at 128
        questions in flight a commit takes tens of milliseconds, a tenth of a question's time. The queue's
        order keeps a crash safe (see the module docstring); ``close`` commits what is queued."""
        self._put("ckpt", (sql, rows))
        await self._maybe_wait()

    def attach_checkpoints(self, path: Path) -> None:
        self._ckpt_path = path

    def add_event(self, event: Event) -> Event:
        """Thread-side API (``asyncio.to_thread(ctx.traces.add_event, ...)``): queued, not awaited."""
        if self.error is not None:
            raise self.error
        self.tokens_in += event.tokens_in
        self.tokens_out += event.tokens_out
        self._q.put(("event", event, None))
        return event

    def close(self, timeout: float = 120.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._q.put((_STOP, None, None))
            self._thread.join(timeout)

    # --- the writer thread ------------------------------------------------------------------
    def _loop(self) -> None:
        stop = False
        while not stop:
            batch = [self._q.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            if any(kind == _STOP for kind, _, _ in batch):
                stop = True
                batch = [b for b in batch if b[0] != _STOP]
            if batch:
                self._write_batch(batch)
        if self._ckpt is not None:
            self._ckpt.close()

    def _write_batch(self, batch: list[tuple[str, Any, Any]]) -> None:
        exc: StoreError | None = self.error
        if exc is None:
            try:
                self._commit(batch)
            except Exception as e:  # noqa: BLE001 - every waiter of the batch gets the error
                log.exception("trace writer: a batch of %d writes failed", len(batch))
                msg = str(e).splitlines()[0][:200] if str(e) else ""
                exc = e if isinstance(e, StoreError) else StoreError(f"cannot write traces: {type(e).__name__}: {msg}")
                self.error = exc
        by_loop: dict[Any, list[asyncio.Future]] = defaultdict(list)
        for _, _, fut in batch:
            if fut is not None:
                by_loop[fut.get_loop()].append(fut)
        for loop, futs in by_loop.items():  # one wake-up per event loop, not one per write
            try:
                loop.call_soon_threadsafe(_resolve, futs, exc)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def _commit(self, batch: list[tuple[str, Any, Any]]) -> None:
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for kind, payload, _ in batch:
            by_kind[kind].append(payload)
        if by_kind["start"] or by_kind["event"] or by_kind["finish"]:
            with self.engine.begin() as conn:
                if by_kind["start"]:
                    self._starts(conn, by_kind["start"])
                if by_kind["event"]:
                    self._events(conn, by_kind["event"])
                if by_kind["finish"]:
                    self._finish(conn, by_kind["finish"])
            for t in by_kind["finish"]:
                self._seq.pop(t.id, None)
                self._new.discard(t.id)
        if by_kind["ckpt"] or by_kind["drop"]:
            self._checkpoints(by_kind["ckpt"], by_kind["drop"])

    def _starts(self, conn: Any, starts: list[tuple[Trace, bool, int | None]]) -> None:
        new = []
        for trace, resumed, keep in starts:
            row = _trace_row(trace)
            if resumed:
                row.pop("tokens_in"), row.pop("tokens_out"), row.pop("created_at")
                if keep is not None:
                    conn.execute(delete(events).where(events.c.trace_id == trace.id, events.c.seq > keep))
                    kept = select(func.coalesce(func.sum(events.c.tokens_in), 0), func.coalesce(
                        func.sum(events.c.tokens_out), 0)).where(events.c.trace_id == trace.id)
                    row["tokens_in"], row["tokens_out"] = conn.execute(kept).one()
                conn.execute(update(traces).where(traces.c.id == trace.id).values(**row))
                last = conn.execute(select(func.max(events.c.seq)).where(events.c.trace_id == trace.id)).scalar()
                self._seq[trace.id] = int(last or 0)
            else:
                new.append(row)
                self._seq[trace.id] = 0
                self._new.add(trace.id)
        if new:
            _executemany(conn, _INSERT_TRACES, new)

    def _events(self, conn: Any, evs: list[Event]) -> None:
        rows = []
        tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for ev in evs:
            if ev.trace_id not in self._seq:  # a trace started outside this writer
                last = conn.execute(select(func.max(events.c.seq)).where(events.c.trace_id == ev.trace_id)).scalar()
                self._seq[ev.trace_id] = int(last or 0)
            self._seq[ev.trace_id] += 1
            ev.seq = self._seq[ev.trace_id]
            rows.append(dict(ev.__dict__))  # its fields as they are: the engine serialises JSON (store/db.py)
            if ev.tokens_in or ev.tokens_out:
                tokens[ev.trace_id][0] += ev.tokens_in
                tokens[ev.trace_id][1] += ev.tokens_out
        _executemany(conn, _INSERT_EVENTS, rows)
        if tokens:
            conn.execute(_ADD_TOKENS, [{"tid": tid, "tin": t[0], "tout": t[1]} for tid, t in tokens.items()])

    def _ckpt_conn(self) -> sqlite3.Connection:
        if self._ckpt is None:
            if self._ckpt_path is None:
                raise StoreError("checkpoint writes queued without a checkpoint file")
            self._ckpt = sqlite3.connect(self._ckpt_path, timeout=60, isolation_level=None)
            self._ckpt.execute("PRAGMA journal_mode=WAL")
            self._ckpt.execute("PRAGMA synchronous=NORMAL")
        return self._ckpt

    def _checkpoints(self, items: list[tuple[str, list[tuple]]], finished_threads: list[str]) -> None:
        """New checkpoints, then the deletion of finished questions' threads (after their own last one)."""
        conn = self._ckpt_conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for sql, rows in items:
                conn.executemany(sql, rows)
            if finished_threads:
                done = [(t,) for t in finished_threads]
                conn.executemany("DELETE FROM checkpoints WHERE thread_id = ?", done)
                conn.executemany("DELETE FROM writes WHERE thread_id = ?", done)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot write checkpoints to {self._ckpt_path}: {e}") from e

    def _finish(self, conn: Any, finishes: list[Trace]) -> None:
        """Records of accepted traces and the final rows (in the batch's transaction: both or neither)."""
        rows = []
        for t in finishes:
            t.finished_at = t.finished_at or utcnow()
            row = _trace_row(t)
            rows.append({"tid": t.id, **{f"v_{k}": v for k, v in row.items() if k not in _KEEP_ON_FINISH}})
        cols = tuple(k[2:] for k in rows[0] if k.startswith("v_"))
        if self.records is not None:
            recs = [record_row(r) for r in (record_from_trace(t) for t in finishes if t.status in VERIFIED_STATUSES)
                    if r is not None]
            if recs:
                self._records(conn, recs, self._new)
        _executemany(conn, _finish_stmt(cols), rows)

    @staticmethod
    def _records(conn: Any, recs: list[dict[str, Any]], new_traces: set[str]) -> None:
        """Insert new records; a resumed trace's record written before a crash is updated in place.
        Only traces not inserted by this writer (``new_traces``) are looked up."""
        ids = [r["trace_id"] for r in recs if r["trace_id"] not in new_traces]
        have: set[str] = set()
        if ids:
            have = {r[0] for r in conn.execute(select(records.c.trace_id).where(records.c.trace_id.in_(ids)))}
        new = [r for r in recs if r["trace_id"] not in have]
        if new:
            _executemany(conn, _INSERT_RECORDS, new)
        for r in recs:
            if r["trace_id"] in have:
                r = {k: v for k, v in r.items() if k != "created_at"}
                conn.execute(update(records).where(records.c.trace_id == r["trace_id"]).values(**r))


@functools.lru_cache(maxsize=4)
def _finish_stmt(cols: tuple[str, ...]) -> Any:
    return update(traces).where(traces.c.id == bindparam("tid")).values(**{c: bindparam(f"v_{c}") for c in cols})


def _executemany(conn: Any, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(stmt, rows)``; on SQLite straight through the driver with the statement compiled once
    and the column types' own bind processors (JSON, datetimes). SQLAlchemy's per-row parameter handling
    cost the writer thread more than SQLite's inserts, and that thread shares the event loop's GIL."""
    if conn.dialect.name != "sqlite" or not rows:
        conn.execute(stmt, rows)
        return
    sql, names, procs = _compiled(stmt, tuple(rows[0]), conn.dialect)
    if not set(names) <= rows[0].keys():  # a column default to fill in: SQLAlchemy's job
        conn.execute(stmt, rows)
        return
    params = [tuple(row[n] if p is None else p(row[n]) for n, p in zip(names, procs)) for row in rows]
    conn.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=32)
def _compiled(stmt: Any, keys: tuple[str, ...], dialect: Any) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ())
    procs = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    return str(compiled), names, procs
