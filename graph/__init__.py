"""The agent graph: typed state, nodes, routing, and the pipeline that runs questions through it."""

from __future__ import annotations

from scireflect.graph.graph import build_graph, mermaid, pipeline_version, recursion_limit

__all__ = ["build_graph", "mermaid", "pipeline_version", "recursion_limit"]
