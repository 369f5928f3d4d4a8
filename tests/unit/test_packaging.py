"""The component folders install as scireflect sub-packages, never as top-level modules."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_components_import_as_subpackages():
    for name in ("agents", "graph", "tools", "training", "evaluation"):
        importlib.import_module(f"scireflect.{name}")


@pytest.mark.parametrize("name", ["tools", "graph", "agents", "training", "evaluation"])
def test_no_top_level_component_modules(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the repo root on sys.path would find the folders directly
    import subprocess
    import sys

    code = f"import sys; sys.path = [p for p in sys.path if p not in ('', {str(REPO)!r})]; import {name}"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=tmp_path)
    assert res.returncode != 0


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    dirs = cfg["package-dir"]
    found = set()
    for pkg, folder in dirs.items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_console_script_is_declared():
    proj = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert proj["scripts"]["scireflect"] == "scireflect.cli:main"
