"""CLI commands (placeholder until the owning issue lands)."""

from __future__ import annotations

from scireflect.cli import app  # noqa: F401
