"""Test helpers for retrieval: tiny real PDFs (plain and encrypted) and a real ``chroma run`` server."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from pathlib import Path
from typing import Iterator

from scireflect.testing.process import free_port, served


def _pdf_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF whose pages carry the given lines of text in Helvetica (no PDF library needed)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        del page_id
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 "
                       f"{font_id} 0 R >> >> /Contents {content_id} 0 R >>".encode())
        body = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({_pdf_escape(line)}) Tj T*" for line in lines) + " ET"
        stream = body.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for num, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % num + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def make_encrypted_pdf(pages: list[list[str]], password: str = "secret") -> bytes:
    """The same PDF, encrypted with a user password (RC4, which pypdf writes without extra packages)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(pages))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def chroma_executable() -> str | None:
    """The ``chroma`` CLI installed with chromadb (next to this Python first, then on PATH)."""
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


@contextlib.contextmanager
def chroma_server(data_dir: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """Runs ``chroma run --path DIR --host 127.0.0.1 --port P`` on a free port; yields its URL; stops it."""
    exe = chroma_executable()
    if exe is None:
        raise RuntimeError("the chroma CLI is not installed (pip install 'scireflect[retrieval]')")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [exe, "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    with served(cmd, f"{url}/api/v2/heartbeat", name="chroma run", timeout_s=timeout_s,
                log=Path(data_dir).parent / f"chroma-{port}.log"):
        yield url
