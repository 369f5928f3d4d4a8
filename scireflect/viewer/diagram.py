"""The graph diagram of one trace: the compiled graph's mermaid text with the path this trace took highlighted.

Only node names of the compiled graph and visit counts enter the diagram text, never stored text, so
the diagram cannot carry markup from a trace.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Iterable

_EDGE = re.compile(r"^\s*(\w+)\s+(?:-->|-\.->|==>)\s+(\w+);?\s*$")
_NODE = re.compile(r"^(\s*)(\w+)\((\w+)\)\s*$")
START, END = "__start__", "__end__"


@functools.lru_cache(maxsize=1)
def graph_mermaid() -> str:
    """Mermaid text of the compiled graph (built once per process: compiling costs ~100 ms)."""
    from scireflect.graph import mermaid

    text = mermaid()
    # LangGraph labels start and end with HTML paragraphs; plain words need no HTML labels.
    return text.replace(f"([<p>{START}</p>])", "([start])").replace(f"([<p>{END}</p>])", "([end])")


def graph_nodes(text: str) -> set[str]:
    nodes = {START, END}
    for line in text.splitlines():
        m = _NODE.match(line)
        if m:
            nodes.add(m.group(2))
    return nodes


def highlighted(path: Iterable[str], *, finished: bool, failed: Iterable[str] = (), base: str | None = None) -> str:
    """``base`` (the graph's mermaid) with the nodes and edges of ``path`` styled, and visit counts on
    nodes run more than once. ``finished`` draws the last step into ``__end__``."""
    base = base if base is not None else graph_mermaid()
    known = graph_nodes(base)
    nodes = [n for n in path if n in known]
    steps = [START, *nodes] + ([END] if finished else [])
    taken = set(zip(steps, steps[1:]))
    visits = Counter(nodes)
    out, edge_no, taken_edges = [], 0, []
    for line in base.splitlines():
        m = _EDGE.match(line)
        if m:
            if (m.group(1), m.group(2)) in taken:
                taken_edges.append(edge_no)
            edge_no += 1
        n = _NODE.match(line)
        if n and visits[n.group(2)] > 1:
            line = f'{n.group(1)}{n.group(2)}("{n.group(3)} ×{visits[n.group(2)]}")'
        out.append(line)
    bad = sorted(set(failed) & known)
    ok = [n for n in dict.fromkeys(steps) if n not in bad]
    out.append("\tclassDef taken fill:#fde68a,stroke:#b45309,stroke-width:3px,color:#111")
    out.append("\tclassDef failed fill:#fecaca,stroke:#b91c1c,stroke-width:3px,color:#111")
    out.append(f"\tclass {','.join(ok)} taken")
    if bad:
        out.append(f"\tclass {','.join(bad)} failed")
    if taken_edges:
        out.append(f"\tlinkStyle {','.join(map(str, taken_edges))} stroke:#b45309,stroke-width:3px")
    return "\n".join(out) + "\n"
