"""The README's graph diagram is the compiled graph's mermaid text."""

from __future__ import annotations

import re
from pathlib import Path

from scireflect.graph import mermaid

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_mermaid_matches_compiled_graph():
    blocks = re.findall(r"```mermaid\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no mermaid block"
    assert blocks[0].strip() == mermaid().strip(), "regenerate: python -c 'from scireflect.graph import mermaid; print(mermaid())'"


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one():
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    cmds = [ln.split("#")[0].strip() for ln in quick.strip().splitlines() if ln.split("#")[0].strip()]
    assert cmds == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
