"""``scireflect traces export ID --format html``: one trace as a single self-contained HTML file.

Same page as the server's trace view, with KaTeX (fonts included), mermaid and the viewer's CSS/JS
inlined, so it opens from file:// with no server and no network. A Content-Security-Policy in the
page pins those inline scripts by hash: nothing else in the file can run.
"""

from __future__ import annotations

from scireflect.errors import ConfigError
from scireflect.schema import Trace
from scireflect.viewer.assets import inline_assets, missing_assets
from scireflect.viewer.render import render


def export_html(trace: Trace) -> str:
    """The trace page as one HTML document (about 4 MB, most of it the diagram library)."""
    from scireflect.viewer.trace_view import trace_view

    missing = missing_assets()
    if missing:
        raise ConfigError(f"viewer assets missing from the installed package: {', '.join(missing)}; "
                          "reinstall scireflect")
    return render("trace.html", v=trace_view(trace), inline=inline_assets(), exported=True, css=(), js=())
