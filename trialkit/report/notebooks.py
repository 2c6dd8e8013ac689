"""The notebooks of a report: discovery, ``parameters`` cells, the kernelspec, staleness checks.

Examples
--------
>>> notebook_stem_matches("02_safety", "safety"), notebook_stem_matches("02_safety", "02")
(True, True)
"""
from __future__ import annotations

import ast
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialkit.report.params import ParamsError, RunParams
from trialkit.yamlcheck import Checker, suggest

#: CPython 3.11's parser is not safe to call from several threads at once (``SystemError: AST constructor
#: recursion depth mismatch``, seen when the runner's kernel threads read their notebooks' imports together).
_PARSE_LOCK = threading.Lock()


def _parse(source: str) -> ast.Module:
    with _PARSE_LOCK:
        return ast.parse(source)

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["STANDARD_PARAMETERS", "discover_notebooks", "notebook_parameters", "notebook_stem_matches",
           "notebook_differences", "notebook_kernelspec"]

#: The parameters every notebook's ``parameters`` cell declares (see the notebook conventions).
STANDARD_PARAMETERS = ("dataset", "study_file", "scenario", "seed", "alpha", "out_dir", "allow_listings")


def notebook_kernelspec() -> dict[str, str]:
    """The ``kernelspec`` metadata of the kernel this environment installs (ipykernel's spec).

    The runner starts this kernel and ``make notebooks`` stores this metadata in the committed
    notebooks, so JupyterLab (which writes the running kernel's spec) finds nothing to change.

    Examples
    --------
    >>> notebook_kernelspec()
    {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
    """
    from ipykernel.kernelspec import KERNEL_NAME as name
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    return {"display_name": spec["display_name"], "language": spec["language"], "name": name}


# ------------------------------------------------------------------------------------------------
# Notebooks
# ------------------------------------------------------------------------------------------------
def notebook_stem_matches(stem: str, name: str) -> bool:
    """Does ``--only NAME`` select notebook ``stem``? Exact stem, its number, or its name part.

    Examples
    --------
    >>> [notebook_stem_matches("02_safety", n) for n in ("02_safety", "02", "safety", "02_safety.ipynb")]
    [True, True, True, True]
    >>> notebook_stem_matches("02_safety", "saf"), notebook_stem_matches("02_safety", "2")
    (False, False)
    """
    name = Path(name).stem if name.endswith(".ipynb") else name
    number, _, rest = stem.partition("_")
    return name in (stem, number, rest)


def discover_notebooks(folder: str | Path, only: list[str] | None = None) -> list[Path]:
    """The notebooks to run: ``NN_name.ipynb`` in ``folder``, in reading (file-name) order.

    ``only`` restricts to the named ones (see :func:`notebook_stem_matches`); a name matching
    nothing is an error.

    Examples
    --------
    >>> from trialkit.report.folders import project_root
    >>> folder = project_root() / "tests" / "fixtures" / "notebooks" / "report"
    >>> [p.name for p in discover_notebooks(folder)]
    ['01_summary.ipynb', '02_outcomes.ipynb']
    >>> [p.stem for p in discover_notebooks(folder, only=["outcomes"])]
    ['02_outcomes']
    >>> discover_notebooks(folder, only=["03"])
    Traceback (most recent call last):
    ...
    trialkit.report.params.ParamsError: --only 03: no such notebook in ... (have: 01_summary, 02_outcomes)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ParamsError(f"notebook folder {folder} does not exist")
    found = sorted(p for p in folder.glob("*.ipynb") if p.stem[:2].isdigit() and "_" in p.stem)
    if only:
        missing = [n for n in only if not any(notebook_stem_matches(p.stem, n) for p in found)]
        if missing:
            raise ParamsError(f"--only {' '.join(missing)}: no such notebook in {folder} "
                              f"(have: {', '.join(p.stem for p in found) or 'none'})")
        found = [p for p in found if any(notebook_stem_matches(p.stem, n) for n in only)]
    if not found:
        raise ParamsError(f"no notebooks (NN_name.ipynb) in {folder}")
    return found


def notebook_parameters(nb_or_path: NotebookNode | str | Path) -> dict[str, Any]:
    """Names and literal defaults of a notebook's ``parameters`` cell (``{}`` when it has none).

    Examples
    --------
    >>> from trialkit.report.folders import project_root
    >>> fixture = project_root() / "tests" / "fixtures" / "notebooks" / "report" / "01_summary.ipynb"
    >>> declared = notebook_parameters(fixture)
    >>> set(STANDARD_PARAMETERS) <= set(declared), declared["alpha"], declared["label"]
    (True, 0.05, 'default label')

    A notebook object works too; a default that is not a literal is given as its source text:

    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("n_splits = 5\\nout = Path('out')", metadata={"tags": ["parameters"]})
    >>> notebook_parameters(nbformat.v4.new_notebook(cells=[cell]))
    {'n_splits': 5, 'out': "Path('out')"}
    >>> notebook_parameters(nbformat.v4.new_notebook())
    {}
    """
    import nbformat

    nb = nbformat.read(str(nb_or_path), as_version=4) if isinstance(nb_or_path, (str, Path)) else nb_or_path
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            out: dict[str, Any] = {}
            for node in _parse(cell.source).body:
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            try:
                                out[t.id] = ast.literal_eval(node.value)
                            except ValueError:
                                out[t.id] = ast.unparse(node.value)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                    try:
                        out[node.target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        out[node.target.id] = ast.unparse(node.value)
            return out
    return {}


def source_cell_number(source_nb: NotebookNode, executed_index: int) -> int | None:
    """1-based number, in the source notebook, of cell ``executed_index`` of papermill's output.

    papermill inserts its ``injected-parameters`` cell right after the ``parameters`` cell (or at
    the top when there is none); that cell itself maps to None.
    """
    if executed_index is None:  # failed before any cell started (e.g. while writing the notebook)
        return None
    cells = source_nb.cells
    param = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    injected = 0 if param is None else param + 1
    if executed_index == injected:
        return None
    return (executed_index if executed_index < injected else executed_index - 1) + 1


def top_level_imports(path: Path) -> list[str]:
    """The module-level ``import`` statements of a notebook's code cells (to pre-import)."""
    import nbformat

    lines: list[str] = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            body = _parse(cell.source).body
        except SyntaxError:
            continue
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                stmt = ast.unparse(node)
                if stmt not in lines:
                    lines.append(stmt)
    return lines


def notebook_run_parameters(params: RunParams, nb: Path, dataset_param: str, declared: dict) -> dict:
    standard = {"dataset": dataset_param, "study_file": "study.yaml",
                "scenario": "scenario.yaml" if params.simulate else None,
                "seed": params.seed if params.simulate else None,
                "alpha": params.alpha, "out_dir": ".", "allow_listings": params.allow_listings}
    extra = {}
    c = Checker(str(params.source), ParamsError)
    for key, values in params.notebook_parameters.items():
        if notebook_stem_matches(nb.stem, key):
            c.known_keys(values, declared, f"notebook_parameters.{key}")  # the parameters of notebook nb
            extra.update(values)
    out = {k: v for k, v in standard.items() if k in declared}
    out.update(extra)
    return out


def check_notebook_keys(params: RunParams, folder: Path) -> None:
    """Every ``notebook_parameters`` key names a notebook of ``folder`` (also those not run)."""
    stems = [p.stem for p in discover_notebooks(folder)]
    for k in params.notebook_parameters:
        if not any(notebook_stem_matches(s, k) for s in stems):
            hint = suggest(k, stems)
            raise Checker(str(params.source), ParamsError).fail(
                f"notebook_parameters.{k}", f"a notebook of {folder} (have: {', '.join(stems)})",
                shown=f"unknown notebook {k!r}" + (f" (did you mean {hint!r}?)" if hint else ""))


def _output_key(out: dict) -> list[tuple[str, str]]:
    """What is compared of one output: its type, stream name or error, and every MIME bundle
    entry as stored (images as their base64 bytes)."""
    items = [("type", out.get("output_type", ""))]
    if out.get("output_type") == "stream":
        items.append((f"stream {out.get('name', '')}", "".join(out.get("text", ""))))
    elif out.get("output_type") == "error":
        items.append(("error", f"{out.get('ename', '')}: {out.get('evalue', '')}"))
    for mime, value in sorted(out.get("data", {}).items()):
        items.append((mime, value if isinstance(value, str) else json.dumps(value, sort_keys=True)))
    return items


def notebook_differences(committed: str | Path, refreshed: str | Path) -> list[str]:
    """Cells whose stored outputs differ between a committed notebook and its re-execution.

    Every output of every code cell is compared exactly: text, HTML and the bytes of every
    image (the figures are deterministic). Metadata and execution counts are not compared.

    Parameters
    ----------
    committed : path
        The notebook as committed.
    refreshed : path
        The same notebook re-executed as ``make notebooks`` does
        (:func:`refresh_notebooks` with ``into``).

    Returns
    -------
    list of str
        One line per differing cell: ``<committed>: cell <n> (<first source line>): <what>``
        (``n`` 1-based, as JupyterLab counts), empty when the notebook is up to date.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> def write(name, text):
    ...     cell = nbformat.v4.new_code_cell("print(x)", outputs=[nbformat.v4.new_output("stream", text=text)])
    ...     nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell]),
    ...                    str(tmp / name))
    >>> write("old.ipynb", "0.45\\n"), write("new.ipynb", "0.43\\n")
    (None, None)
    >>> notebook_differences(tmp / "old.ipynb", tmp / "new.ipynb")  # doctest: +ELLIPSIS
    ['.../old.ipynb: cell 2 (print(x)): stream stdout differs: committed "0.45", now "0.43"']
    >>> notebook_differences(tmp / "old.ipynb", tmp / "old.ipynb")
    []
    """
    import nbformat

    old = nbformat.read(str(committed), as_version=4)
    new = nbformat.read(str(refreshed), as_version=4)
    if [c.cell_type for c in old.cells] != [c.cell_type for c in new.cells]:
        return [f"{committed}: cells differ from the re-executed notebook ({len(old.cells)} vs {len(new.cells)})"]
    found = []
    for n, (a, b) in enumerate(zip(old.cells, new.cells), start=1):
        if a.cell_type != "code":
            continue
        head = (a.source.strip().splitlines() or [""])[0][:60]
        where = f"{committed}: cell {n} ({head})"
        ka, kb = [_output_key(o) for o in a.outputs], [_output_key(o) for o in b.outputs]
        if ka == kb:
            continue
        if len(ka) != len(kb):
            found.append(f"{where}: {len(ka)} output(s) committed, {len(kb)} now")
            continue
        for i, (oa, ob) in enumerate(zip(ka, kb), start=1):
            da, db = dict(oa), dict(ob)
            for key in sorted(set(da) | set(db)):
                if da.get(key) == db.get(key):
                    continue
                label = f"output {i} {key}" if len(ka) > 1 else key
                if key.startswith("image/"):
                    found.append(f"{where}: {label} differs (image bytes)")
                else:
                    va, vb = _first_difference(da.get(key) or "", db.get(key) or "")
                    found.append(f'{where}: {label} differs: committed "{va}", now "{vb}"')
                break
    return found


def _first_difference(a: str, b: str, width: int = 30) -> tuple[str, str]:
    """The stretch of ``a`` and ``b`` around their first difference, on one line."""
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - width // 2)
    return " ".join(a[lo:i + width].split()), " ".join(b[lo:i + width].split())
