"""The PDFs of the supplementary archive, printed by Chromium (through playwright).

One PDF per notebook page and ``supplement.pdf`` (a cover listing the numbered tables and
figures, then every page), with a print stylesheet (:data:`PRINT_CSS`: no header bar or contents
panel, code hidden, wide tables shrunk to the page width, page numbers in the footer).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from html import escape as html_escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialkit.report.citation import ArchiveError, author_name

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["PRINT_CSS", "print_pdfs", "prepare_print", "fit_tables", "clipped_tables", "pdf_page_count",
           "find_chromium"]
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


# ------------------------------------------------------------------------------------------------
# PDF
# ------------------------------------------------------------------------------------------------
#: The print stylesheet added to each page before printing (and in the browser test).
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
html, body { background: #fff !important; }
body { font-size: 10pt; }
.tk-bar, nav.tk-toc, #toc { display: none !important; }
main { margin: 0 !important; padding: 0 !important; }
details.tk-code, .jp-CodeCell .jp-Cell-inputWrapper, .jp-CodeCell .jp-InputArea,
.jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser { display: none !important; }
.jp-Cell, .jp-OutputArea-child, .jp-OutputArea-output { overflow: visible !important; max-width: 100% !important; }
.jp-Cell { padding: 0 !important; }
table { max-width: 100%; font-size: 8pt !important; }
th, td { white-space: normal !important; overflow-wrap: anywhere; }
img, svg { max-width: 100% !important; height: auto !important; break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
.tk-caption { break-before: avoid; }
.tk-cover { break-after: page; }
.tk-cover td { text-align: left !important; vertical-align: top; }
.tk-cover td:first-child, .tk-cover td:last-child { white-space: nowrap !important; }
.tk-part { break-before: page; }
"""
FOOTER = ('<div style="font: 8px sans-serif; color: #555; width: 100%; text-align: center;">'
          '<span class="title"></span> &middot; page <span class="pageNumber"></span> of '
          '<span class="totalPages"></span></div>')
CONTENT_WIDTH_PX = round((210 - 24) / 25.4 * 96)  # A4 minus the side margins of PRINT_CSS, at 96 px per inch

_FIT_JS = """(width) => {
  const out = [];
  const main = document.querySelector('main') || document.body;
  const left = main.getBoundingClientRect().left;
  document.querySelectorAll('table').forEach((t, i) => {
    if (t.closest('table') !== t || t.parentElement.closest('table')) return;
    const w = t.getBoundingClientRect().right - left;
    if (w > width + 1) { const z = Math.max(0.3, width / w); t.style.zoom = z; out.push([i, w, z]); }
  });
  return out;
}"""
_CLIPPED_JS = """(width) => {
  const out = [];
  const main = document.querySelector('main') || document.body;
  const left = main.getBoundingClientRect().left;
  document.querySelectorAll('table').forEach((t, i) => {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && (r.right - left > width + 1)) out.push([i, r.right - left]);
  });
  return out;
}"""
_STRIP_LINKS_JS = """() => {
  document.querySelectorAll('a[href]').forEach(a => {
    if (!a.getAttribute('href').startsWith('#')) a.removeAttribute('href');
  });
}"""


def find_chromium() -> str:
    """Path of the Chromium that prints the PDFs: ``$TRIALKIT_CHROMIUM``, else Debian's ``/usr/bin/chromium``.

    Examples
    --------
    >>> import os
    >>> os.environ["TRIALKIT_CHROMIUM"] = "/bin/sh"        # any executable file is accepted
    >>> find_chromium()
    '/bin/sh'
    >>> del os.environ["TRIALKIT_CHROMIUM"]
    """
    env = os.environ.get("TRIALKIT_CHROMIUM")
    candidates = [env] if env else list(CHROMIUM_PATHS) + [shutil.which("chromium") or ""]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise ArchiveError("no Chromium to print the PDFs: install it (Debian: apt-get install chromium), set "
                       "TRIALKIT_CHROMIUM to its path, or archive without PDFs (--no-pdf)")


def fit_tables(page: Page, width: int = CONTENT_WIDTH_PX) -> list:
    """Shrink (CSS zoom) every table wider than ``width`` px in a playwright ``page``; returns ``[index, width, zoom]``.

    Examples
    --------
    >>> fit_tables.__name__      # needs a browser page: exercised by tests/test_archive.py
    'fit_tables'
    """
    return page.evaluate(_FIT_JS, width)


def clipped_tables(page: Page, width: int = CONTENT_WIDTH_PX) -> list:
    """Tables of a playwright ``page`` extending past ``width`` px from the content's left edge: ``[index, right]``.

    Examples
    --------
    >>> clipped_tables.__name__  # needs a browser page: exercised by tests/test_archive.py
    'clipped_tables'
    """
    return page.evaluate(_CLIPPED_JS, width)


def prepare_print(page: Page) -> None:
    """Make a loaded notebook page printable: print media, :data:`PRINT_CSS`, tables fitted, outside links removed.

    Examples
    --------
    >>> prepare_print.__name__   # needs a browser page: exercised by tests/test_archive.py
    'prepare_print'
    """
    page.set_viewport_size({"width": CONTENT_WIDTH_PX, "height": 1100})
    page.emulate_media(media="print")
    page.add_style_tag(content=PRINT_CSS)
    fit_tables(page)
    page.evaluate(_STRIP_LINKS_JS)


def _fix_pdf_dates(data: bytes) -> bytes:
    """Chromium stamps the current time: replace the digits in place (same length, offsets unchanged)."""
    def fixed(m: re.Match) -> bytes:
        n = len(m.group(2))
        return m.group(0)[:-n] + b"19800101000000"[:n].ljust(n, b"0")

    return re.sub(rb"/(CreationDate|ModDate)\s*\(D:(\d+)", fixed, data)


def pdf_page_count(path: str | Path) -> int:
    """Number of pages of a PDF file (its ``/Type /Page`` objects).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.pdf"
    >>> _ = f.write_bytes(b"%PDF-1.4 1 0 obj <</Type /Pages /Count 2>> 2 0 obj <</Type /Page>> 3 0 obj <</Type/Page>>")
    >>> pdf_page_count(f)
    2
    """
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(path).read_bytes()))


def _main_content(html: str) -> tuple[str, str]:
    head = re.search(r"<head>(.*?)</head>", html, re.S)
    body = re.search(r"<main>(.*)</main>", html, re.S)
    head_text = re.sub(r"<title>.*?</title>", "", head.group(1), flags=re.S) if head else ""
    return head_text, (body.group(1) if body else html)


def _cover_html(settings: dict, captions: list[dict], pages: list[dict], date: str) -> str:
    import html as h

    authors = ", ".join(author_name(a) for a in settings["authors"])
    ordered = [c for c in captions if c["kind"] == "table"] + [c for c in captions if c["kind"] == "figure"]
    rows = "".join(f"<tr><td><b>{h.escape(c['label'])}</b></td><td>{h.escape(c['caption'])}</td>"
                   f"<td>{h.escape(c['notebook'])}</td></tr>" for c in ordered)
    parts = "".join(f"<li>{h.escape(p['title'])} <small>({h.escape(p['stem'])})</small></li>" for p in pages)
    return (f'<section class="tk-cover jp-RenderedHTMLCommon"><h1>{h.escape(settings["title"])}</h1>'
            f"<p>{h.escape(authors)} &middot; version {h.escape(str(settings['version']))} &middot; {date}</p>"
            f"<p>{h.escape(settings['description'])}</p><h2>Contents</h2><ol>{parts}</ol>"
            f"<h2>Supplementary tables and figures</h2><table><tbody>{rows}</tbody></table></section>")


def print_pdfs(folder: str | Path, pages: list[dict], *, settings: dict, captions: list[dict], date: str,
               progress: Callable[[str], object] | None = None) -> list[Path]:
    """Print ``pdf/<stem>.pdf`` for each notebook page of ``folder`` and ``pdf/supplement.pdf`` (cover + all).

    Chromium (:func:`find_chromium`) driven by playwright, from the files on disk, no network.

    Examples
    --------
    >>> print_pdfs.__name__      # starts a browser: exercised by tests/test_archive.py
    'print_pdfs'
    """
    from playwright.sync_api import sync_playwright

    folder = Path(folder)
    out_dir = folder / "pdf"
    out_dir.mkdir(exist_ok=True)
    written = []
    pdf_options: dict[str, Any] = {"format": "A4", "print_background": True, "display_header_footer": True,
                   "header_template": "<div></div>", "footer_template": FOOTER, "prefer_css_page_size": True}
    heads, bodies = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())  # never the network
            for p in pages:
                if progress is not None:
                    progress(f"printing pdf/{p['stem']}.pdf")
                src = folder / f"{p['stem']}.html"
                html = src.read_text(encoding="utf-8")
                head, body = _main_content(html)
                heads.append(head)
                bodies.append(body)
                page.goto(src.resolve().as_uri(), wait_until="load")
                prepare_print(page)
                dest = out_dir / f"{p['stem']}.pdf"
                dest.write_bytes(_fix_pdf_dates(page.pdf(**pdf_options)))
                written.append(dest)
            if progress is not None:
                progress("printing pdf/supplement.pdf")
            combined = (f"<!DOCTYPE html><html><head>{heads[0] if heads else ''}"
                        f"<title>{html_escape(settings['title'])}</title></head><body class=\"jp-Notebook\"><main>"
                        + _cover_html(settings, captions, pages, date)
                        + "".join(f'<div class="tk-part">{b}</div>' for b in bodies) + "</main></body></html>")
            tmp = Path(tempfile.mkdtemp(prefix="tk-print-"))
            try:
                (tmp / "supplement.html").write_text(combined, encoding="utf-8")
                page.goto((tmp / "supplement.html").as_uri(), wait_until="load")
                prepare_print(page)
                dest = out_dir / "supplement.pdf"
                dest.write_bytes(_fix_pdf_dates(page.pdf(**pdf_options)))
                written.append(dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            browser.close()
    return written
