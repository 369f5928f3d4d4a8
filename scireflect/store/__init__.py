"""Stores: traces with their events, runs, and training records, in SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from scireflect.settings import Settings
from scireflect.store.db import make_engine, migrate
from scireflect.store.records import RecordStore
from scireflect.store.traces import RunStore, TraceStore

__all__ = ["Stores", "open_stores", "TraceStore", "RunStore", "RecordStore"]


@dataclass
class Stores:
    """The stores of one workspace, sharing one engine."""

    engine: Engine
    traces: TraceStore
    runs: RunStore
    revision: str
    records: RecordStore | None = None  # training records of accepted traces (filled by open_stores)

    def close(self) -> None:
        self.engine.dispose()


def open_stores(settings: Settings | None = None, url: str | None = None) -> Stores:
    """Open (and migrate) the store at ``url`` or the settings' database."""
    if url is None:
        if settings is None:
            raise ValueError("open_stores needs settings or a url")
        url = settings.db_url
    engine = make_engine(url)
    rev = migrate(engine)
    return Stores(engine=engine, traces=TraceStore(engine), runs=RunStore(engine), revision=rev,
                  records=RecordStore(engine))
