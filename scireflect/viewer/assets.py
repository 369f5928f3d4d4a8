"""The viewer's front-end assets (KaTeX, mermaid, its own CSS/JS), served from the package or inlined.

The server links them under /static; an exported page inlines them (fonts as data: URIs) and pins
each inline script by hash in a Content-Security-Policy, so the file opens from file:// with no server
and still runs nothing but these scripts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

STATIC = Path(__file__).parent / "static"

CSS = ("vendor/katex/katex.min.css", "viewer.css")
# Order matters: auto-render and mhchem extend katex; viewer.js calls both libraries.
JS = ("vendor/katex/katex.min.js", "vendor/katex/contrib/auto-render.min.js", "vendor/katex/contrib/mhchem.min.js",
      "vendor/mermaid/mermaid.min.js", "viewer.js")
# The list page renders math in question previews but draws no diagram.
LIST_JS = tuple(p for p in JS if "mermaid" not in p)

# What the server sends with every page. Inline styles are needed by KaTeX and mermaid's SVG;
# scripts only from the server itself, never inline.
SERVER_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; "
              "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
              "frame-ancestors 'none'")

_FONT_SRC = re.compile(r'src:url\(fonts/([\w-]+)\.woff2\) format\("woff2"\)(?:,url\([^)]*\) format\("[^"]*"\))*')


def missing_assets() -> list[str]:
    """Asset files the package lacks (a broken install); empty when all are there."""
    return [p for p in (*CSS, *JS) if not (STATIC / p).is_file()]


def _read(rel: str) -> str:
    return (STATIC / rel).read_text(encoding="utf-8")


def _inline_fonts(css: str, fonts: Path) -> str:
    def sub(m: re.Match[str]) -> str:
        data = base64.b64encode((fonts / f"{m.group(1)}.woff2").read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    return _FONT_SRC.sub(sub, css)


def _script_safe(js: str) -> str:
    # "</script" inside a string would end the inline element early; "<\/" is the same string in JS.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)


@dataclass(frozen=True)
class InlineAssets:
    css: Markup
    scripts: tuple[Markup, ...]
    csp: str


@functools.lru_cache(maxsize=1)
def inline_assets() -> InlineAssets:
    """Every asset as inline text, read once per process (the trusted package files only)."""
    css = "\n".join(_inline_fonts(_read(p), (STATIC / p).parent / "fonts") if "katex" in p else _read(p)
                    for p in CSS)
    scripts = tuple(_script_safe(_read(p)) for p in JS)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in scripts)
    csp = (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; font-src data:; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    return InlineAssets(css=Markup(css), scripts=tuple(Markup(s) for s in scripts), csp=csp)
