"""Trace viewer over a real PostgreSQL store: migration 0003 and every list filter behave as on SQLite."""

from __future__ import annotations

import re

import pytest

from scireflect.viewer.samples import sample_trace, store_trace

pytestmark = pytest.mark.integration
pytest.importorskip("fastapi", reason="the viewer needs the 'viewer' extra (fastapi)")

XSS = "<script>alert(1)</script>"


def test_viewer_pages_and_filters_on_postgres(postgres_url):
    from starlette.testclient import TestClient

    from scireflect.store import open_stores
    from scireflect.viewer.app import create_app

    stores = open_stores(url=postgres_url)
    try:
        for i in range(20):
            store_trace(stores, sample_trace(i, payload=XSS if i == 7 else ""))
        client = TestClient(create_app(stores))

        def ids(query: str) -> set[int]:
            r = client.get(f"/?{query}&per_page=200")
            assert r.status_code == 200, r.text[:300]
            return {int(t[2:]) for t in re.findall(r'href="/traces/(t_\d+)"', r.text)}

        assert ids("") == set(range(20))
        assert ids("status=rejected") == {3, 8, 13, 18}
        assert ids("verdict=steps%3Afail") == {3, 8, 13, 18}
        assert ids("verdict=answer%3Aok&subject=physics") == {0, 12, 16}
        assert ids("q=VARIANT+1%2C") == {1}  # case-insensitive search
        scores = {i: sample_trace(i).gate.score for i in range(20)}
        assert ids("min_score=0.6&max_score=0.8") == {i for i, s in scores.items() if s is not None and 0.6 <= s <= 0.8}
        page = client.get("/traces/t_000007")
        assert page.status_code == 200 and "<script>alert(1)" not in page.text
        assert page.text.count('class="card event') == len(sample_trace(7).events)
    finally:
        stores.close()
