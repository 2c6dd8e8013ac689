"""Numbered, captioned supplementary tables and figures.

Every ``save_table`` / ``save_figure`` call of a report run (``out_dir`` given, inside a kernel)
shows a caption in the notebook: ``Table S? (tables/<name>.csv). <caption>`` above the table,
``Figure S? (figures/<name>.png). <caption>`` below the figure. The caption text comes from the
``caption=`` argument, else from the registry ``trialkit/report/captions.yaml`` (keyed by name),
else the name itself.

After every notebook ran, :func:`number_captions` numbers them in reading order across the
notebooks (file-name order, then order of appearance): tables S1, S2, … and figures S1, S2, …
separately; a name saved twice keeps its first number. It writes the numbers into the executed
notebooks and their HTML pages (a cheap text substitution: the pages are not re-rendered), so the
same run gives the same numbers. :func:`collect_captions` reads them back for ``index.html`` and
the supplement's README.

Examples
--------
>>> caption_for("table", "efficacy_logrank")
'Global and pairwise log-rank tests of the primary endpoint.'
>>> caption_for("figure", "efficacy_symptom_bars_appetite_loss")
'Distribution of the appetite loss score over the visits, by arm.'
>>> caption_for("table", "demo_counts"), caption_for("table", "demo_counts", "Counts by arm.")
('demo counts', 'Counts by arm.')
"""
from __future__ import annotations

import functools
import html as _html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from trialkit.resources import package_file

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["REGISTRY", "KINDS", "caption_for", "caption_output", "show_caption", "place_captions",
           "number_captions", "collect_captions", "load_registry"]

REGISTRY = package_file("report", "captions.yaml")
KINDS = {"table": ("Table", "tables", "csv"), "figure": ("Figure", "figures", "png")}
_META = "trialkit_caption"
_UNNUMBERED = "S?"


@functools.lru_cache(maxsize=1)
def load_registry(path: str | None = None) -> dict[str, dict[str, str]]:
    """The caption registry: ``{"tables": {name: caption}, "figures": {name: caption}}``.

    Examples
    --------
    >>> reg = load_registry()
    >>> sorted(reg), reg["figures"]["efficacy_km"].startswith("Kaplan-Meier curves")
    (['figures', 'tables'], True)
    """
    import yaml

    raw = yaml.safe_load(Path(path or REGISTRY).read_text(encoding="utf-8")) or {}
    return {k: {str(n): str(c) for n, c in (raw.get(k) or {}).items()} for k in ("tables", "figures")}


#: The significance level the registry's ``{level}`` is written from (set by ``notebook_setup(alpha=)``).
_ALPHA = [0.05]


def set_alpha(alpha: float) -> None:
    """Label the registry's intervals with the level ``1 - alpha`` (``{level}`` in a caption).

    Examples
    --------
    >>> set_alpha(0.01); caption_for("table", "efficacy_cox_arm").count("99%")
    1
    >>> set_alpha(0.05)
    """
    _ALPHA[0] = float(alpha)


def caption_for(kind: str, name: str, caption: str | None = None) -> str:
    """The caption of table or figure ``name``: ``caption`` if given, else the registry's, else the name.

    A registry key ``prefix_<word>`` matches every name starting with ``prefix_``; ``{word}`` in
    its caption becomes the rest of the name, underscores as spaces. An exact key wins. ``{level}``
    in a registry caption is the interval level that the notebook's ``alpha`` gives (:func:`set_alpha`).

    Examples
    --------
    >>> caption_for("figure", "efficacy_symptom_bars_leg_edema")
    'Distribution of the leg edema score over the visits, by arm.'
    >>> caption_for("figure", "efficacy_km", caption="Survival by arm.")
    'Survival by arm.'
    """
    if kind not in KINDS:
        raise ValueError(f"caption kind {kind!r}: expected 'table' or 'figure'")
    if caption:
        return str(caption)
    from trialkit.stats.levels import level_pct

    entries = load_registry()[f"{kind}s"]
    text = entries.get(name)
    if text is None:
        for key, entry in entries.items():
            m = re.fullmatch(r"(.*_)<(\w+)>", key)
            if m and name.startswith(m.group(1)) and len(name) > len(m.group(1)):
                text = entry.replace("{" + m.group(2) + "}", name[len(m.group(1)):].replace("_", " "))
                break
    if text is None:
        return name.replace("_", " ")
    return text.replace("{level}", level_pct(_ALPHA[0]))


def _html_caption(kind: str, name: str, text: str, number: str) -> str:
    word, folder, ext = KINDS[kind]
    return (f'<p class="tk-caption" data-tk-ref="{kind}:{name}"><b class="tk-num">{word} {number}</b> '
            f'(<a href="{folder}/{name}.{ext}">{folder}/{name}.{ext}</a>). {_html.escape(text)}</p>')


def _plain_caption(kind: str, name: str, text: str, number: str) -> str:
    word, folder, ext = KINDS[kind]
    return f"{word} {number} ({folder}/{name}.{ext}). {text}"


def caption_output(kind: str, name: str, caption: str | None = None, number: str = _UNNUMBERED) -> dict:
    """The notebook output (a ``display_data`` dict) showing a caption; numbered later.

    Examples
    --------
    >>> out = caption_output("table", "efficacy_logrank")
    >>> out["output_type"]
    'display_data'
    >>> out["data"]["text/plain"]
    'Table S? (tables/efficacy_logrank.csv). Global and pairwise log-rank tests of the primary endpoint.'
    >>> out["metadata"]["trialkit_caption"]["name"]
    'efficacy_logrank'
    """
    text = caption_for(kind, name, caption)
    return {"output_type": "display_data",
            "data": {"text/html": _html_caption(kind, name, text, number),
                     "text/plain": _plain_caption(kind, name, text, number)},
            "metadata": {_META: {"kind": kind, "name": name, "caption": text, "number": number}}}


def show_caption(kind: str, name: str, caption: str | None = None) -> bool:
    """Display the caption in the running kernel; False (nothing shown) outside a kernel.

    Examples
    --------
    >>> show_caption("table", "efficacy_logrank")      # a doctest runs outside any kernel
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    from IPython.display import display

    out = caption_output(kind, name, caption)
    display(out["data"], raw=True, metadata=out["metadata"])
    return True


def _caption_meta(output: dict) -> dict | None:
    meta = output.get("metadata", {}).get(_META) if output.get("output_type") == "display_data" else None
    return meta if isinstance(meta, dict) else None


def place_captions(nb: NotebookNode) -> NotebookNode:
    """Move each figure caption below the image that follows it in the same cell (in place; returns ``nb``).

    Table captions stay above their table, as journals print them.

    Examples
    --------
    >>> import nbformat
    >>> image = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})
    >>> cap = nbformat.from_dict(caption_output("figure", "efficacy_km"))
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot", outputs=[cap, image])])
    >>> [sorted(o["data"])[0] for o in place_captions(nb).cells[0].outputs]
    ['image/png', 'text/html']
    """
    for cell in nb.cells:
        outputs = list(cell.get("outputs", []))
        if not any((_caption_meta(o) or {}).get("kind") == "figure" for o in outputs):
            continue
        images = [o for o in outputs if _caption_meta(o) is None
                  and any(k.startswith("image/") for k in o.get("data", {}))]
        claimed: set[int] = set()
        for cap in [o for o in outputs if (_caption_meta(o) or {}).get("kind") == "figure"]:
            start = next(i for i, o in enumerate(outputs) if o is cap)
            target = next((o for o in outputs[start + 1:] if any(o is im for im in images)
                           and id(o) not in claimed), None)
            if target is None:
                continue
            claimed.add(id(target))
            outputs.remove(cap)
            outputs.insert(next(i for i, o in enumerate(outputs) if o is target) + 1, cap)
        cell.outputs = outputs
    return nb


def _scan(nb: NotebookNode) -> list[tuple[dict, dict]]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = _caption_meta(out)
            if meta is not None and meta.get("kind") in KINDS:
                found.append((out, meta))
    return found


def number_captions(report_dir: str | Path, notebooks: list[str]) -> list[dict]:
    """Number the captions of a report's executed notebooks and write the numbers into them and their pages.

    Returns the list of :func:`collect_captions`.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> for stem, saved in (("01_a", [("table", "t_one"), ("figure", "f_one")]), ("02_b", [("table", "t_two")])):
    ...     outs = [nbformat.from_dict(caption_output(k, n)) for k, n in saved]
    ...     nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outs)])
    ...     nbformat.write(nb, str(report / f"{stem}.ipynb"))
    ...     _ = (report / f"{stem}.html").write_text("".join(o["data"]["text/html"] for o in outs))
    >>> [(c["label"], c["name"], c["notebook"]) for c in number_captions(report, ["01_a", "02_b"])]
    [('Table S1', 't_one', '01_a'), ('Figure S1', 'f_one', '01_a'), ('Table S2', 't_two', '02_b')]
    >>> "Table S2</b>" in (report / "02_b.html").read_text()
    True
    """
    import nbformat

    report_dir = Path(report_dir)
    numbers: dict[tuple[str, str], str] = {}
    counts = {k: 0 for k in KINDS}
    for stem in notebooks:
        path = report_dir / f"{stem}.ipynb"
        if not path.is_file():
            continue
        nb = nbformat.read(str(path), as_version=4)
        found = _scan(nb)
        changed = False
        for out, meta in found:
            key = (meta["kind"], meta["name"])
            if key not in numbers:
                counts[meta["kind"]] += 1
                numbers[key] = f"S{counts[meta['kind']]}"
            fresh = caption_output(meta["kind"], meta["name"], meta.get("caption"), numbers[key])
            if out.get("data") != fresh["data"] or meta.get("number") != numbers[key]:
                out["data"] = fresh["data"]
                out["metadata"][_META] = fresh["metadata"][_META]
                changed = True
        if changed:
            text = nbformat.writes(nb)
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", newline="\n")
        page = report_dir / f"{stem}.html"
        if page.is_file() and found:
            html = page.read_text(encoding="utf-8")

            def relabel(m: re.Match) -> str:
                kind, name = m.group(2), m.group(3)
                number = numbers.get((kind, name), _UNNUMBERED)
                return f"{m.group(1)}{KINDS[kind][0]} {number}{m.group(4)}"

            new = re.sub(r'(<p class="tk-caption" data-tk-ref="(table|figure):([a-z0-9_]+)"><b class="tk-num">)'
                         r'[^<]*(</b>)', relabel, html)
            if new != html:
                page.write_text(new, encoding="utf-8", newline="\n")
    return collect_captions(report_dir, notebooks)


def collect_captions(report_dir: str | Path, notebooks: list[str]) -> list[dict]:
    """The numbered tables and figures of a report, in reading order (first occurrence of each name).

    Each item: ``kind``, ``name``, ``number`` (``S1``), ``label`` (``Table S1``), ``caption``,
    ``notebook`` (stem) and ``href`` (the CSV or PNG file, relative to the report folder).

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> out = nbformat.from_dict(caption_output("figure", "efficacy_km", number="S4"))
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[out])]),
    ...                str(report / "03_efficacy.ipynb"))
    >>> [(c["label"], c["href"]) for c in collect_captions(report, ["03_efficacy"])]
    [('Figure S4', 'figures/efficacy_km.png')]
    """
    import nbformat

    report_dir = Path(report_dir)
    items, seen = [], set()
    for stem in notebooks:
        path = report_dir / f"{stem}.ipynb"
        if not path.is_file():
            continue
        for _, meta in _scan(nbformat.read(str(path), as_version=4)):
            key = (meta["kind"], meta["name"])
            if key in seen:
                continue
            seen.add(key)
            word, folder, ext = KINDS[meta["kind"]]
            items.append({"kind": meta["kind"], "name": meta["name"], "number": meta.get("number", _UNNUMBERED),
                          "label": f"{word} {meta.get('number', _UNNUMBERED)}", "caption": meta.get("caption", ""),
                          "notebook": stem, "href": f"{folder}/{meta['name']}.{ext}"})
    return items

