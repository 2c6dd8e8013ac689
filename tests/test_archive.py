"""Supplementary material: numbered captions, and the archive ``trialkit archive`` writes.

One report of the real notebooks (``params/default.yaml`` with the browser test's smaller
workloads) is built once for this module and archived once; the archive is unpacked in another
folder and checked there: files, ``SHA256SUMS`` (``sha256sum -c``), ``CITATION.cff`` (the CFF
1.2.0 schema), the RO-Crate (read back with the ``rocrate`` package), no machine paths, PDFs
(page count; no table wider than the printed page), and every page opened offline in Chromium.
"""
from __future__ import annotations

import getpass
import json
import re
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from trialkit.cli import main
from trialkit.report.archive import archive_report, find_machine_strings
from trialkit.report.captions import caption_for, collect_captions, load_registry, number_captions
from trialkit.report.citation import ArchiveError, check_settings, validate_citation
from trialkit.report.notebooks import notebook_parameters
from trialkit.report.params import load_params
from trialkit.report.pdf import clipped_tables, find_chromium, fit_tables, pdf_page_count, prepare_print
from trialkit.report.runner import run_report

ROOT = Path(__file__).resolve().parent.parent
SMALLER = {  # as tests/test_browser.py: same pages, fewer resamples and simulated trials
    "04_predictive": {"n_repeats": 1, "learning_curve_replicates": 1, "learning_curve_sizes": [60, 120],
                      "learning_curve_test_size": 500},
    "05_design_simulation": {"n_trials": 20, "curve_trials": 5, "lab_trials": 5},
}
AUTHORS = [{"family-names": "Doe", "given-names": "Ann", "affiliation": "Example University",
            "orcid": "https://orcid.org/0000-0002-1825-0097"}, {"name": "The DEMO study group"}]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from dataclasses import replace

    params = load_params(ROOT / "params" / "default.yaml")
    extra = {}
    for stem, values in SMALLER.items():
        declared = notebook_parameters(ROOT / "notebooks" / f"{stem}.ipynb")
        extra[stem] = {k: v for k, v in values.items() if k in declared}
    params = replace(params, notebooks=str(ROOT / "notebooks"), notebook_parameters=extra,
                     archive={"authors": AUTHORS, "version": "2.0", "keywords": ["randomized trial"]})
    out = tmp_path_factory.mktemp("archive-report") / "default"
    return run_report(params, out=out, progress=False).target


@pytest.fixture(scope="module")
def unpacked(report, tmp_path_factory):
    zip_path = archive_report(report)
    assert zip_path == report.with_name("default.zip")
    elsewhere = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(elsewhere)
    return elsewhere / "supplement"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


# ------------------------------------------------------------------------------------------------
# Captions
# ------------------------------------------------------------------------------------------------
def _documented_names() -> dict[str, set[str]]:
    names = {"table": set(), "figure": set()}
    for line in (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z0-9_<>]+)` \| (table|figure|table \+ figure|table \(\+ \.html\)) \|", line)
        if m:
            for kind in ("table", "figure"):
                if kind in m.group(2):
                    names[kind].add(m.group(1))
    return names


def test_every_documented_table_and_figure_has_a_registered_caption():
    documented = _documented_names()
    assert len(documented["table"]) > 50 and len(documented["figure"]) > 15
    registry = load_registry()
    for kind in ("table", "figure"):
        assert documented[kind] == set(registry[f"{kind}s"]), (
            f"docs/outputs.md and trialkit/report/captions.yaml list different {kind}s: "
            f"only documented {sorted(documented[kind] - set(registry[f'{kind}s']))}, "
            f"only captioned {sorted(set(registry[f'{kind}s']) - documented[kind])}")


def test_captions_name_no_arm_treatment_or_condition_of_the_trial():
    study = yaml.safe_load((ROOT / "params" / "study.yaml").read_text(encoding="utf-8"))
    words = {a["label"] for a in study["arms"]} | {f["label"] for f in study["factors"].values()}
    words |= {"HBV", "liver", "hepatitis", "MSC", "plasma exchange", "MELD", "HCC", "carcinoma", study["study"]["id"]}
    registry = load_registry()
    for kind in ("tables", "figures"):
        for name, text in registry[kind].items():
            hits = [w for w in words if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text, re.I)]
            assert not hits, f"captions.yaml {kind}.{name} names {hits}: captions stay generic"


def test_caption_argument_wins_and_patterns_fill_in():
    assert caption_for("table", "efficacy_km_survival").startswith("Kaplan-Meier estimates")
    assert caption_for("table", "efficacy_km_survival", "Mine.") == "Mine."
    assert caption_for("table", "safety_shift_ast").startswith("CTCAE grade shift of the lab parameter (ast,")
    assert caption_for("figure", "efficacy_symptom_bars_leg_edema") == (
        "Distribution of the leg edema score over the visits, by arm.")
    with pytest.raises(ValueError, match="expected 'table' or 'figure'"):
        caption_for("chart", "x")


def test_tables_and_figures_are_numbered_in_reading_order(report):
    stems = sorted(p.stem for p in report.glob("*.ipynb"))
    items = collect_captions(report, stems)
    for kind, word in (("table", "Table"), ("figure", "Figure")):
        labels = [c["label"] for c in items if c["kind"] == kind]
        assert labels == [f"{word} S{i}" for i in range(1, len(labels) + 1)], labels
        assert len(labels) >= (30 if kind == "table" else 10)
    order = [stems.index(c["notebook"]) for c in items]
    assert order == sorted(order), "numbers follow the notebooks' reading order"
    assert all(not c["caption"].replace(" ", "_") == c["name"] for c in items), "every saved name has a caption"
    assert all((report / c["href"]).is_file() for c in items)
    index = (report / "index.html").read_text(encoding="utf-8")
    for c in items:
        page = (report / f"{c['notebook']}.html").read_text(encoding="utf-8")
        assert f'data-tk-ref="{c["kind"]}:{c["name"]}"><b class="tk-num">{c["label"]}</b>' in page
        assert f"<td>{c['label']}</td>" in index and f'href="{c["href"]}"' in index
    assert "S?" not in "".join((report / f"{s}.html").read_text(encoding="utf-8") for s in stems)


def test_figure_captions_sit_below_their_figure_and_numbering_is_stable(report):
    import nbformat

    nb = nbformat.read(str(report / "03_efficacy.ipynb"), as_version=4)
    placed = 0
    for cell in nb.cells:
        outs = cell.get("outputs", [])
        for i, o in enumerate(outs):
            meta = o.get("metadata", {}).get("trialkit_caption")
            if meta and meta["kind"] == "figure" and i > 0:
                assert any(k.startswith("image/") for k in outs[i - 1].get("data", {})), meta["name"]
                placed += 1
    assert placed >= 3
    stems = sorted(p.stem for p in report.glob("*.ipynb"))
    before = {p.name: p.read_bytes() for p in report.iterdir() if p.suffix in (".ipynb", ".html")}
    assert number_captions(report, stems) == collect_captions(report, stems)
    assert {p.name: p.read_bytes() for p in report.iterdir() if p.suffix in (".ipynb", ".html")} == before


# ------------------------------------------------------------------------------------------------
# The archive
# ------------------------------------------------------------------------------------------------
def test_archive_holds_the_supplement_and_sha256sums_verify(unpacked):
    names = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    stems = [f"0{i}_" for i in range(1, 6)]
    for required in ("README.md", "LICENSE", "CITATION.cff", "ro-crate-metadata.json", "SHA256SUMS", "index.html",
                     "manifest.json", "params.yaml", "requirements-lock.txt", "study.yaml", "scenario.yaml",
                     "pdf/supplement.pdf"):
        assert required in names, required
    for s in stems:
        assert any(n.startswith(s) and n.endswith(".html") for n in names)
        assert any(n.startswith(f"pdf/{s}") and n.endswith(".pdf") for n in names)
    assert "data/subjects.csv" in names, "a simulated dataset is shared"
    listed = {line.split("  ", 1)[1] for line in (unpacked / "SHA256SUMS").read_text().splitlines()}
    assert listed == names - {"SHA256SUMS"}
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=unpacked, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    (unpacked / "README.md").write_text((unpacked / "README.md").read_text() + "tampered\n")
    try:
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=unpacked,
                              capture_output=True).returncode == 1
    finally:
        (unpacked / "README.md").write_text((unpacked / "README.md").read_text()[:-len("tampered\n")])


def test_readme_lists_numbered_items_and_how_to_reproduce(unpacked, report):
    readme = (unpacked / "README.md").read_text(encoding="utf-8")
    items = collect_captions(report, sorted(p.stem for p in report.glob("*.ipynb")))
    for c in items:
        assert f"| {c['label']} | " in readme and f"`{c['href']}`" in readme
    for needed in ("## What to open first", "`index.html`", "pdf/supplement.pdf", "trialkit run --params params.yaml",
                   "make install", "requirements-lock.txt", "**simulated**", "Ann Doe", "Version 2.0"):
        assert needed in readme, needed
    params = yaml.safe_load((unpacked / "params.yaml").read_text(encoding="utf-8"))
    assert params["alpha"] == 0.05 and params["notebooks"] == "notebooks" and "source" not in params


def test_citation_cff_is_valid_and_carries_the_run_metadata(unpacked, report):
    text = (unpacked / "CITATION.cff").read_text(encoding="utf-8")
    validate_citation(text)
    cff = yaml.safe_load(text)
    manifest = json.loads((report / "manifest.json").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == "2.0" and cff["license"] == "CC-BY-4.0"
    assert cff["date-released"] == manifest["finished"][:10]
    assert cff["authors"][0] == AUTHORS[0] and cff["authors"][1] == {"name": "The DEMO study group"}
    assert cff["title"].startswith("Supplementary material: NCT01724398")
    broken = yaml.safe_load(text)
    broken["date-released"] = "31/01/2026"
    with pytest.raises(ArchiveError, match="date-released"):
        validate_citation(yaml.safe_dump(broken))
    licence = (unpacked / "LICENSE").read_text()
    assert "CC-BY-4.0" in licence and "MIT License" in licence and "Ann Doe" in licence


def test_ro_crate_describes_every_file_the_notebooks_inputs_and_software(unpacked, report):
    from rocrate.rocrate import ROCrate

    crate = ROCrate(unpacked)  # the reference reader parses the crate
    assert crate.root_dataset["name"].startswith("Supplementary material")
    graph = {e["@id"]: e for e in json.loads((unpacked / "ro-crate-metadata.json").read_text())["@graph"]}
    assert graph["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    files = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    from trialkit.report.manifest import sha256_file

    for f in files - {"ro-crate-metadata.json"}:
        e = graph[f]
        assert "File" in (e["@type"] if isinstance(e["@type"], list) else [e["@type"]]), f
        assert e["encodingFormat"] and (f == "SHA256SUMS" or e["sha256"] == sha256_file(unpacked / f)), f
        assert crate.dereference(f) is not None, f
    manifest = json.loads((report / "manifest.json").read_text())
    for n in manifest["notebooks"]:
        nb = graph[f"{n['name']}.ipynb"]
        assert "SoftwareSourceCode" in nb["@type"] and nb["license"] == {"@id": "https://spdx.org/licenses/MIT"}
        action = graph[f"#run-{n['name']}"]
        params = {graph[o["@id"]]["name"]: graph[o["@id"]]["value"] for o in action["object"]
                  if graph[o["@id"]]["@type"] == "PropertyValue"}
        assert params["alpha"] == "0.05" and params["dataset"] == "simulate", params
        assert {"@id": f"{n['name']}.html"} in action["result"]
    data_inputs = {i["path"]: i["sha256"] for i in manifest["inputs"] if i["role"] == "data"}
    assert data_inputs and all(graph[p]["sha256"] == h for p, h in data_inputs.items())
    assert not [e for e in graph if e.startswith("#not-included/")]
    versions = {e["name"]: e["version"] for e in graph.values() if e["@id"].startswith("#software/")}
    assert versions == {k: v for k, v in manifest["packages"].items() if v is not None}
    captioned = [e for e in graph.values() if str(e.get("name", "")).startswith("Table S")]
    assert captioned and all(e.get("description") for e in captioned)


def test_no_machine_paths_user_or_host_names_in_the_archive(unpacked, report):
    secrets = {str(ROOT), str(Path.home()) + "/", str(report.parent), "file://"}
    host, user = socket.gethostname(), getpass.getuser()
    for p in sorted(unpacked.rglob("*")):
        if not p.is_file():
            continue
        text = p.read_bytes().decode("latin-1")
        for s in secrets:
            assert s not in text, f"{p.relative_to(unpacked)} contains {s!r}"
        if len(host) >= 3:  # a shorter host name ("vm") cannot be told from ordinary text
            assert not re.search(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", text), f"{p.name}: host name"
        if user != "root":  # root's home (/root/) is checked above; the word itself is ordinary
            assert not re.search(rf"(?<![\w.-]){re.escape(user)}(?![\w-])", text), f"{p.name}: user name"
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert not manifest["executable"].startswith("/")
    assert json.loads((report / "manifest.json").read_text())["executable"] == manifest["executable"]


def test_archive_refuses_a_machine_path_and_never_overwrites_a_foreign_zip(report, tmp_path, capsys):
    foreign = tmp_path / "other.zip"
    foreign.write_bytes(b"not ours")
    assert main(["archive", str(report), "--out", str(foreign), "--no-pdf"]) == 2
    assert "not a trialkit archive" in capsys.readouterr().err and foreign.read_bytes() == b"not ours"
    assert main(["archive", str(tmp_path / "missing")]) == 2
    assert "not a report folder" in capsys.readouterr().err
    leaky = tmp_path / "leaky"
    shutil.copytree(report, leaky, ignore=shutil.ignore_patterns("data"))
    (leaky / "tables" / "note.csv").write_text(f"where\n{ROOT}/secret\n")
    with pytest.raises(ArchiveError, match="tables/note.csv: the checkout path"):
        archive_report(leaky, pdf=False)
    assert not (tmp_path / "leaky.zip").exists()


def test_real_data_are_described_not_shared_unless_listings_are_allowed(tmp_path):
    from conftest import tiny_tables, write_csv_dataset

    data = tmp_path / "tiny"
    write_csv_dataset(tiny_tables(), data)
    params = tmp_path / "run.yaml"
    params.write_text(yaml.safe_dump({"name": "real", "outputs": str(tmp_path / "outputs"), "dataset": str(data),
                                      "notebooks": str(ROOT / "tests" / "fixtures" / "notebooks" / "report")}))
    for allow in (False, True):
        target = run_report(params, allow_listings=allow, progress=False).target
        folder = tmp_path / f"unpacked-{allow}"
        with zipfile.ZipFile(archive_report(target, pdf=False)) as z:
            z.extractall(folder)
        folder /= "supplement"
        manifest = json.loads((target / "manifest.json").read_text())
        hashes = {Path(i["path"]).name: i["sha256"] for i in manifest["inputs"] if i["role"] == "data"}
        graph = {e["@id"]: e for e in json.loads((folder / "ro-crate-metadata.json").read_text())["@graph"]}
        readme = (folder / "README.md").read_text()
        if allow:
            assert {p.name for p in (folder / "data").iterdir()} == set(hashes)
            assert all(graph[f"data/{n}"]["sha256"] == h for n, h in hashes.items())
        else:
            assert not (folder / "data").exists() and "**not included**" in readme
            excluded = {Path(e["name"]).name: e for e in graph.values() if e["@id"].startswith("#not-included/")}
            assert {n: e["sha256"] for n, e in excluded.items()} == hashes
            assert all("not shared" in e["description"] for e in excluded.values())
        assert not find_machine_strings(folder, ROOT)


def test_run_archive_flag_writes_the_zip_after_publishing(tmp_path, capsys):
    params = tmp_path / "run.yaml"
    params.write_text(yaml.safe_dump({"name": "fx", "outputs": str(tmp_path / "outputs"), "n_subjects": 40,
                                      "notebooks": str(ROOT / "tests" / "fixtures" / "notebooks" / "report")}))
    assert main(["run", "--params", str(params), "--jobs", "2", "--archive"]) == 0
    assert "supplementary material written to" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "outputs" / "fx.zip") as z:
        names = set(z.namelist())
    assert {"supplement/pdf/supplement.pdf", "supplement/pdf/01_summary.pdf", "supplement/README.md",
            "supplement/01_summary.html"} <= names
    first = (tmp_path / "outputs" / "fx.zip").read_bytes()
    assert main(["archive", str(tmp_path / "outputs" / "fx")]) == 0
    assert (tmp_path / "outputs" / "fx.zip").read_bytes() == first, "same report, same zip (PDFs included)"


def test_archiving_twice_gives_the_same_zip(report, tmp_path):
    a = archive_report(report, out=tmp_path / "a.zip", pdf=False)
    b = archive_report(report, out=tmp_path / "b.zip", pdf=False)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("raw, fragment", [
    ({"license_content": "CC-BY-9"}, "archive.license_content: expected an SPDX licence identifier (e.g. CC-BY-4.0, MIT), got 'CC-BY-9'"),
    ({"authors": [{"given-names": "Ann"}]}, "archive.authors[0]: expected 'name' or 'family-names', got {'given-names': 'Ann'}"),
    ({"colour": "blue"}, "archive.colour: expected one of the keys title, "),
    ({"authors": [{"name": "X", "orcid": "0000"}]}, "archive.authors[0].orcid: expected https://orcid.org/0000-0000-0000-0000, got '0000'"),
])
def test_bad_archive_settings_name_the_key(tmp_path, capsys, raw, fragment):
    with pytest.raises(ArchiveError, match=re.escape(fragment)):
        check_settings(raw, "run.yaml")
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"archive": raw}))
    assert main(["run", "--params", str(f)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# PDF and the unpacked archive in a browser
# ------------------------------------------------------------------------------------------------
def test_pdfs_have_pages_and_no_table_is_clipped_in_print(unpacked, browser):
    counts = {p.stem: pdf_page_count(p) for p in sorted((unpacked / "pdf").glob("*.pdf"))}
    parts = {k: v for k, v in counts.items() if k != "supplement"}
    assert len(parts) == 5 and all(v >= 1 for v in parts.values()), counts
    assert counts["supplement"] >= sum(parts.values()), counts  # a cover, then every page
    assert parts["03_efficacy"] < 25, counts
    shrunk = 0
    page = browser.new_page()
    for stem in parts:
        page.goto((unpacked / f"{stem}.html").as_uri())
        page.set_viewport_size({"width": 703, "height": 1100})
        page.emulate_media(media="print")
        page.add_style_tag(content="@media print { main { margin: 0 !important; } }")
        wide_before = clipped_tables(page)  # the screen layout under print media, before the print stylesheet
        prepare_print(page)
        shrunk += len(wide_before)
        assert clipped_tables(page) == [], f"{stem}: tables wider than the printed page"
        assert fit_tables(page) == [], f"{stem}: fitting is idempotent"
        hidden = page.evaluate("""() => ['.tk-bar', '#toc', 'details.tk-code'].map(s => {
            const e = document.querySelector(s); return e === null || getComputedStyle(e).display === 'none'; })""")
        assert all(hidden), f"{stem}: header, contents panel and code are hidden in print"
    page.close()
    assert shrunk > 0, "some table is wider than the page without the print stylesheet: the check can fail"


def test_unpacked_archive_opens_offline_and_every_link_resolves(unpacked, browser):
    from urllib.parse import unquote, urlparse

    pages = sorted(unpacked.glob("*.html"))
    assert len(pages) == 6
    for path in pages:
        context = browser.new_context(offline=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("requestfailed", lambda r, problems=problems: problems.append(f"request failed: {r.url}"))
        page.on("pageerror", lambda e, problems=problems: problems.append(f"page error: {e}"))
        page.goto(path.as_uri(), wait_until="load")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        srcs = page.eval_on_selector_all("img[src]", "els => els.map(e => e.src)")
        for url in hrefs + srcs:
            parsed = urlparse(url)
            if parsed.scheme == "file":
                target = Path(unquote(parsed.path))
                assert target.exists(), f"{path.name}: broken link {url}"
                assert target.resolve().is_relative_to(unpacked.resolve()), f"{path.name}: link leaves the archive"
            else:
                assert parsed.scheme == "data", f"{path.name}: external link {url}"
        broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
        assert broken == 0 and not problems, (path.name, problems)
        context.close()
    for pdf in (unpacked / "pdf").glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF-") and pdf_page_count(pdf) >= 1
