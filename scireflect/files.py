"""Writing the files a user names (exports, cards, charts): safely, and failing in one line.

* A regular file (or a new one) is written atomically: a temporary file beside it, then a rename, so a crash
  never leaves half an export.
* Anything that exists and is not a regular file is never replaced: a device (``/dev/stdout``, ``/dev/full``)
  or a pipe is written in place, a directory is refused.
* A missing parent directory is an error unless the caller asks for it to be created.
* Every failure is an :class:`OutputError` (exit 2) naming the path and the reason.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scireflect.errors import ScireflectError


class OutputError(ScireflectError):
    """A file the user named could not be written."""

    exit_code = 2


def _mode(p: Path) -> int | None:
    """``st_mode`` of what is at ``p``, None when nothing is."""
    try:
        return p.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror}") from None


def check_output(path: str | Path, *, create_parents: bool = False) -> Path:
    """``path`` as a place a file can be written to; OutputError when it cannot (checked before any work)."""
    p = Path(path)
    mode = _mode(p)
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {p}: it is a directory; name a file")
    parent = p.parent
    if not parent.exists():
        if not create_parents:
            raise OutputError(f"cannot write {p}: directory {parent} does not exist (create it first)")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create directory {parent}: {e.strerror}") from None
    elif not parent.is_dir():
        raise OutputError(f"cannot write {p}: {parent} is not a directory")
    return p


def write_output(path: str | Path, data: str | bytes, *, create_parents: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` under the rules of this module."""
    p = check_output(path, create_parents=create_parents)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    mode = _mode(p)
    try:
        if mode is not None and not stat.S_ISREG(mode):
            with open(p, "wb") as f:  # a device or a pipe: written in place, never replaced
                f.write(raw)
            return p
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    return p


def save_figure(fig: object, path: str | Path, *, create_parents: bool = False, **savefig: object) -> Path:
    """A matplotlib figure as PNG at ``path``, written under the rules of this module."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig)  # type: ignore[attr-defined]
    return write_output(path, buf.getvalue(), create_parents=create_parents)
