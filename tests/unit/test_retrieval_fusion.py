"""Fusion, filters, and the cheap "no index" answer of open_retriever."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scireflect.errors import InputError
from scireflect.settings import Settings
from scireflect.tools.retrieval import open_retriever
from scireflect.tools.retrieval.store import INDEX_FORMAT
from scireflect.tools.retrieval.retriever import normalise_filters, rrf


def test_rrf_rewards_agreement():
    fused = rrf([["a", "b", "c"], ["b", "d", "a"]])
    assert [cid for cid, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_filters_normalise():
    f = normalise_filters({"subject": "Physics", "source": ["a.md", "b.pdf"], "ignored_when_none": None})
    assert f == {"subject": ["physics"], "source": ["a.md", "b.pdf"]}
    assert normalise_filters(None) == {} and normalise_filters({"subject": ""}) == {}
    with pytest.raises(InputError, match="unknown retrieval filter 'author'"):
        normalise_filters({"author": "x"})


def test_open_retriever_without_index_is_none_and_cheap(tmp_path):
    code = ("import sys, json\n"
            "from scireflect.settings import Settings\n"
            "from scireflect.tools.retrieval import open_retriever\n"
            f"r = open_retriever(Settings(home={str(tmp_path / 'ws')!r}))\n"
            "print(json.dumps([r is None] + [m in sys.modules for m in ('torch', 'chromadb', 'bm25s')]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, False, False, False]
    assert not (tmp_path / "ws").exists()  # nothing is created just by asking


def test_open_retriever_respects_retrieval_off(tmp_path):
    assert open_retriever(Settings(home=tmp_path, retrieval=False)) is None


def test_open_retriever_empty_manifest_is_none(tmp_path):
    d = tmp_path / "chroma" / "bm25" / "textbooks"
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"format": INDEX_FORMAT, "generation": "x", "count": 0}))
    assert open_retriever(Settings(home=tmp_path)) is None
