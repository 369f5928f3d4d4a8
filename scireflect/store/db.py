"""Engine creation and schema migrations (Alembic, run programmatically) for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import threading
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, inspect

from scireflect.errors import StoreError, missing_dependency

MIGRATIONS = Path(__file__).parent / "migrations"
_migrate_lock = threading.Lock()


def json_dumps(value: Any) -> str:
    """Text of a JSON column: orjson (JSON columns are most of what a batch run writes, and json costs
    several times more), json for what orjson refuses (integers beyond 64 bits). Non-finite floats become
    null, as PostgreSQL's JSON type has no NaN or Infinity. Values may hold pydantic models (``_plain``)."""
    try:
        return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(_finite(value), default=_plain)


def _plain(obj: Any) -> Any:
    """What neither JSON library knows: pydantic models as their JSON dump, sets as lists, datetimes as
    ISO text (as orjson writes them), else the text."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return _finite(dump(mode="json"))
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, (datetime, date, time)):
        return obj.isoformat()
    return str(obj)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, for the json fallback (orjson writes them as null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, as json wrote them into SQLite before
        return json.loads(text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers and one writer coexist."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                   json_serializer=json_dumps, json_deserializer=json_loads)

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                   json_serializer=json_dumps, json_deserializer=json_loads)
    except ModuleNotFoundError as e:
        raise missing_dependency(e.name or "database driver", "postgres") from e
    except Exception as e:
        raise StoreError(f"cannot open store {_safe(url)}: {e}") from e
    return engine


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to call on every open."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with _migrate_lock:
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return head or ""
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as e:
            raise StoreError(f"cannot open or migrate store {_safe(str(engine.url))}: "
                             f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from e
    return head or ""


def schema_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(conn).get_current_revision()
