"""``index.html``: the report's front page, with the headline results read from the saved tables."""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trialkit.report.captions import collect_captions
from trialkit.report.narrate import data_source
from trialkit.report.pages import TEMPLATES, notebook_title

if TYPE_CHECKING:
    from trialkit.report.params import RunParams

__all__ = ["write_index", "headline_results", "HEADLINES"]


# ------------------------------------------------------------------------------------------------
# index.html
# ------------------------------------------------------------------------------------------------
#: Headline results on index.html, read from the saved tables, as data: ``templates/headlines.yaml``
#: lists each section's title, note, candidate ``tables``, row filter ``where`` and ``columns``.
HEADLINES: list[dict] = yaml.safe_load((TEMPLATES / "headlines.yaml").read_text(encoding="utf-8"))
_MAX_ROWS = 12
_MAX_COLS = 10


def _fmt(v: Any, col: str) -> str:
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if col.startswith("p_") or col == "p":
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if v.is_integer() and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def _endpoint_words(study_file: Path) -> dict:
    """The primary endpoint's name and events, from the report's study file (headline wording)."""
    from trialkit.study import load_study

    if not study_file.is_file():
        return {}
    study = load_study(study_file)
    ep = study.primary_endpoint
    return {"endpoint": ep.name, "endpoint_events": " or ".join(study.events[e].label.lower() for e in ep.events)}


def headline_results(tables_dir: str | Path, arm_labels: dict[str, str] | None = None, *,
                     endpoint: str = "Primary endpoint", endpoint_events: str = "the events that make it",
                     alpha: float = 0.05, areas_run: Collection[str] | None = None) -> list[dict]:
    """The headline sections for index.html, read from the saved tables (absent ones noted).

    A section whose tables are absent although the notebooks of their area ran (``areas_run``: e.g.
    ``{"safety"}`` when ``02_safety`` ran; a table's area is the first word of its name) is left out:
    the notebook skipped that analysis because the trial's data do not have it (no infusions, no adverse
    events) and says so on its page. Absent tables of an area that did not run are noted as not produced.

    Arm ids in an ``arm`` column are shown with their study-file labels (``arm_labels``); titles and
    notes name the study's primary ``endpoint`` (and the events that make it) and the interval level
    that ``alpha`` gives.

    Examples
    --------
    Only the serious-adverse-event table was produced; its ``level == "any"`` rows are shown:

    >>> import tempfile, pathlib
    >>> tables = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tables / "safety_serious_aes.csv").write_text(
    ...     "arm,level,n,n_patients,estimate,ci_low,ci_high,p_value\\n"
    ...     "ctl,any,20,5,0.25,0.087,0.491,\\n"
    ...     "trt,any,20,3,0.15,0.032,0.379,0.0004\\n"
    ...     "trt,grade3,20,1,0.05,0.001,0.249,0.6\\n")
    >>> sections = headline_results(tables, {"ctl": "Control", "trt": "Treatment"})
    >>> len(sections) == len(HEADLINES), [s["title"] for s in sections if s["table"] is not None]
    (True, ['Serious adverse events'])
    >>> sae = sections[5]
    >>> sae["columns"]
    ['arm', 'n', 'n_patients', 'estimate', 'ci_low', 'ci_high', 'p_value']
    >>> sae["rows"]
    [['Control', '20', '5', '0.25', '0.087', '0.491', '–'],
     ['Treatment', '20', '3', '0.15', '0.032', '0.379', '<0.001']]

    When the safety notebook ran, its absent tables (no infusions, no adverse-event rates) are left out:

    >>> [s["title"] for s in headline_results(tables, areas_run={"safety"})][-2:]
    ['Treatment effects on primary endpoint', 'Serious adverse events']
    """
    import pandas as pd

    from trialkit.report.narrate import ci_label

    tables_dir = Path(tables_dir)
    words = {"endpoint": endpoint, "endpoint_lower": endpoint[:1].lower() + endpoint[1:],
             "endpoint_events": endpoint_events, "ci": ci_label(alpha)}
    out = []
    for spec in HEADLINES:
        name = next((t for t in spec["tables"] if (tables_dir / f"{t}.csv").is_file()), None)
        if name is None and areas_run is not None and all(t.split("_", 1)[0] in areas_run for t in spec["tables"]):
            continue
        section = {"title": spec["title"].format(**words), "note": spec["note"].format(**words), "table": name,
                   "columns": [], "rows": [], "more": 0}
        out.append(section)
        if name is None:
            continue
        try:
            df = pd.read_csv(tables_dir / f"{name}.csv")
        except (ValueError, OSError) as exc:  # empty or malformed: say so, do not fail the report
            section["error"] = f"could not be read ({type(exc).__name__})"
            continue
        for col, value in (spec.get("where") or {}).items():
            if col in df.columns:
                df = df[df[col].astype(str) == str(value)]
        cols = [c for c in spec.get("columns", []) if c in df.columns] or list(df.columns)
        cols = cols[:_MAX_COLS]
        if arm_labels and "arm" in cols:
            df = df.assign(arm=[arm_labels.get(str(a), a) for a in df["arm"]])
        section["columns"] = cols
        section["numeric"] = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
                              for c in cols]
        section["rows"] = [[_fmt(v, c) for c, v in zip(cols, row)]
                           for row in df[cols].head(_MAX_ROWS).astype(object).itertuples(index=False)]
        section["more"] = max(0, len(df) - _MAX_ROWS)
    return out


def _jinja():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_index(report_dir: str | Path, *, params: RunParams, notebooks: list[str], study_title: str,
                dataset_source: str) -> Path:
    """Write ``index.html``: headline results, notebooks, tables, figures, provenance links.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> from trialkit.report.params import RunParams
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Safety overview")]),
    ...                str(report / "01_safety.ipynb"))
    >>> (report / "tables").mkdir()
    >>> _ = (report / "tables" / "safety_serious_aes.csv").write_text("arm,level,n,n_patients\\nctl,any,20,5\\n")
    >>> page = write_index(report, params=RunParams(), notebooks=["01_safety"],
    ...                    study_title="DEMO-1: a demonstration trial", dataset_source="simulated:default:seed=1")
    >>> page.name
    'index.html'
    >>> html = page.read_text()
    >>> "DEMO-1: a demonstration trial" in html, "Safety overview" in html, 'href="01_safety.html"' in html
    (True, True, True)
    >>> "tables/safety_serious_aes.csv" in html, "Serious adverse events" in html
    (True, True)
    """
    import nbformat
    import yaml

    report_dir = Path(report_dir)
    pages = []
    for stem in notebooks:
        nb = nbformat.read(str(report_dir / f"{stem}.ipynb"), as_version=4)
        pages.append({"stem": stem, "title": notebook_title(nb, stem), "html": f"{stem}.html",
                      "ipynb": f"{stem}.ipynb"})
    tables = sorted(p.name for p in (report_dir / "tables").iterdir() if p.is_file()) if (report_dir / "tables").is_dir() else []
    fig_dir = report_dir / "figures"
    figures = []
    for png in sorted(fig_dir.glob("*.png")) if fig_dir.is_dir() else []:
        svg = png.with_suffix(".svg")
        figures.append({"name": png.stem, "png": f"figures/{png.name}",
                        "svg": f"figures/{svg.name}" if svg.is_file() else None})
    study = yaml.safe_load((report_dir / "study.yaml").read_text(encoding="utf-8")) if (report_dir / "study.yaml").is_file() else {}
    from trialkit.derive.tte import horizon_text
    from trialkit.study import parse_days

    # "8 years" -> "day 2922 (year 8)"; 336 -> "day 336 (week 48)"
    horizons = {k: horizon_text(parse_days(v)) for k, v in (study.get("horizons") or {}).items()}
    if dataset_source.startswith("simulated:"):
        _, scen, seed = (dataset_source.split(":") + ["", ""])[:3]
        dataset_text = f"simulated trial (scenario “{scen}”, {seed.replace('=', ' ')})"
    else:
        dataset_text = data_source(dataset_source)
    ctx = {
        "study_title": study_title, "dataset": dataset_text, "alpha": params.alpha, "horizons": horizons,
        "code": params.code, "allow_listings": params.allow_listings,
        "headlines": headline_results(report_dir / "tables",
                                      {str(a.get("id")): str(a.get("label", a.get("id"))) for a in study.get("arms", [])},
                                      **_endpoint_words(report_dir / "study.yaml"), alpha=params.alpha,
                                      areas_run={stem.split("_", 1)[-1] for stem in notebooks}),
        "pages": pages, "tables": tables, "figures": figures, "has_data": (report_dir / "data" / "subjects.csv").is_file(),
        "supplement": collect_captions(report_dir, notebooks),
        "has_truth": (report_dir / "data" / "truth.json").is_file(),
        "areas": _group(tables),
    }
    html = _jinja().get_template("report_index.html.j2").render(**ctx)
    path = report_dir / "index.html"
    path.write_text(html, encoding="utf-8", newline="\n")
    return path


def _group(names: list[str]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split("_", 1)[0], []).append(n)
    return list(groups.items())
