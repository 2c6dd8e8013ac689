"""The published report in a real browser: Debian's headless Chromium driven by playwright.

Opens ``index.html`` and every notebook page of a freshly built report from disk (``file://``) and
checks that every local link resolves, every image loads, every table-of-contents entry jumps to
its heading, code folding works, and the console shows no errors (nor failed requests: the pages
must not reach for a CDN). Never skipped: without ``/usr/bin/chromium`` the test fails; ``.ci/run``
installs it (``apt-get update && apt-get install -y chromium``).

The report is built from ``notebooks/`` with ``params/default.yaml`` (what ``make run``
publishes) into a temporary folder, with smaller workloads for the slowest notebooks (``SMALLER``:
fewer resamples and simulated trials; the pages have the same structure).

Also a helper for the README's screenshot::

    .venv/bin/python tests/test_browser.py --screenshot outputs/default docs/report-index.png
"""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright):
    assert Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} is missing: install Debian's chromium (`apt-get update && apt-get install -y chromium`, "
        "as .ci/run does); the browser test is never skipped")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


#: Smaller workloads for the slow notebooks: pages, links, images and contents are the same,
#: only fewer resamples / simulated trials. Applied only where the notebook declares the parameter.
SMALLER = {
    "04_predictive": {"n_repeats": 1, "learning_curve_replicates": 1, "learning_curve_sizes": [60, 120],
                      "learning_curve_test_size": 500},
    "05_design_simulation": {"n_trials": 20, "curve_trials": 5, "lab_trials": 5},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from dataclasses import replace

    from trialkit.report.notebooks import notebook_parameters
    from trialkit.report.params import load_params
    from trialkit.report.runner import run_report

    params = load_params(ROOT / "params" / "default.yaml")
    extra = {}
    for stem, values in SMALLER.items():
        path = ROOT / "notebooks" / f"{stem}.ipynb"
        if path.is_file():
            declared = notebook_parameters(path)
            extra[stem] = {k: v for k, v in values.items() if k in declared}
    params = replace(params, notebooks=str(ROOT / "notebooks"), notebook_parameters=extra)
    out = tmp_path_factory.mktemp("browser") / "default"
    return run_report(params, out=out, progress=False).target


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def _local_target(page_path: Path, href: str) -> tuple[Path | None, str]:
    """(file the link points to or None for an in-page anchor, fragment)."""
    u = urlparse(href)
    if u.scheme in ("http", "https", "mailto"):
        return None, "external"
    if u.scheme == "file":
        return Path(unquote(u.path)), u.fragment
    if not u.path:
        return None, u.fragment
    return (page_path.parent / unquote(u.path)).resolve(), u.fragment


def _check_page(browser, path: Path) -> dict:
    page, problems = _open(browser, path)
    try:
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            target, frag = _local_target(path, href)
            if frag == "external":
                continue
            if target is None:
                found = page.evaluate(
                    "f => !!(document.getElementById(f) || document.getElementById(decodeURIComponent(f)))", frag)
                assert found, f"{path.name}: in-page link {href!r} has no target"
            else:
                assert target.exists(), f"{path.name}: link {href!r} -> {target} does not exist"
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src').slice(0, 60), e.complete, e.naturalWidth])")
        for src, complete, width in images:
            assert complete and width > 0, f"{path.name}: image {src!r} did not load"
        toc = page.eval_on_selector_all("#toc a", "els => els.map(e => e.getAttribute('href'))")
        for href in toc:
            page.click(f'#toc a[href="{href}"]')
            inview = page.evaluate(
                """h => { const f = h.slice(1);
                          const el = document.getElementById(f) || document.getElementById(decodeURIComponent(f));
                          if (!el) return 'missing';
                          const r = el.getBoundingClientRect();
                          return (r.top >= 0 && r.top < window.innerHeight) ? 'ok' : 'top=' + r.top; }""", href)
            assert inview == "ok", f"{path.name}: TOC entry {href!r} did not jump to its heading ({inview})"
        folded = page.query_selector("details.tk-code")
        if folded is not None:
            assert folded.get_attribute("open") is None
            folded.query_selector("summary").click()
            assert folded.get_attribute("open") is not None, f"{path.name}: code fold does not open"
        page.wait_for_timeout(50)
        assert problems == [], f"{path.name}: " + "; ".join(problems)
        return {"links": len(hrefs), "images": len(images), "toc": len(toc)}
    finally:
        page.close()


def test_index_and_every_notebook_page(report, browser):
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no notebooks in notebooks/"
    index = _check_page(browser, report / "index.html")
    assert index["links"] >= 2 * len(notebooks)
    figures = list((report / "figures").glob("*.png"))
    assert index["images"] == len(figures)
    for stem in notebooks:
        page = report / f"{stem}.html"
        assert page.is_file(), f"{stem}.html missing from the report"
        seen = _check_page(browser, page)
        assert seen["toc"] >= 1, f"{stem}.html has no table of contents"


def test_index_links_every_page(report, browser):
    page, problems = _open(browser, report / "index.html")
    try:
        hrefs = set(page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"))
    finally:
        page.close()
    for html in report.glob("*.html"):
        if html.name != "index.html":
            assert html.name in hrefs and html.with_suffix(".ipynb").name in hrefs
    for table in (report / "tables").iterdir():
        assert f"tables/{table.name}" in hrefs


def screenshot(report_dir: str | Path, png: str | Path, width: int = 1280, height: int = 1000) -> None:
    """Save a screenshot of ``<report_dir>/index.html`` (for the README)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        page = b.new_page(viewport={"width": width, "height": height})
        page.goto((Path(report_dir).resolve() / "index.html").as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(png), full_page=False)
        b.close()


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 4 and sys.argv[1] == "--screenshot":
        screenshot(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
