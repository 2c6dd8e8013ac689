"""Run the analysis notebooks with papermill and publish one reproducible, provenance-stamped report.

``trialkit run --params params/default.yaml`` is :func:`run_report`:

1. read the run parameters (:func:`load_params`);
2. prepare the inputs once, in a build folder beside the target: simulate the dataset into
   ``data/`` (CSV) when the parameters say ``simulate``, and write the study file actually used
   (horizons applied) as ``study.yaml``;
3. execute every notebook of ``notebooks/`` with papermill, in parallel from this one process
   (threads; each kernel is this interpreter's ipykernel, started with its own connection file
   on IPC sockets, so parallel start-ups cannot race for TCP ports), injecting the parameters;
4. publish (:mod:`trialkit.report.publish`): strip run-dependent metadata from the executed
   notebooks, render HTML, refuse if a subject identifier appears, write ``index.html`` and
   ``manifest.json``;
5. swap the build folder into place. A failure at any step leaves the previous report untouched.

Every kernel sees the same environment (``PYTHONHASHSEED=0``, one BLAS thread, UTC), so outputs do
not depend on ``--jobs`` or on the order in which notebooks finish.

``python -m trialkit.report.runner [NOTEBOOK ...]`` (``make notebooks``) re-executes committed
notebooks in place with their default parameters (see :func:`refresh_notebooks`).

Examples
--------
>>> p = load_params(None)        # params/default.yaml
>>> p.dataset, p.code in ("show", "fold", "hide")
('simulate', True)
>>> notebook_stem_matches("02_safety", "safety"), notebook_stem_matches("02_safety", "02")
(True, True)
"""
from __future__ import annotations

import ast
import datetime as _dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from trialkit.data.handoff import HANDOFF_ENV, write_validated
from trialkit.data.ids import ambiguous_ids, pseudonyms
from trialkit.data.io import replace_dir
from trialkit.errors import TrialkitError
from trialkit.report import inputs
from trialkit.report.captions import number_captions
from trialkit.report.folders import (
    BUILD_MARKER,
    check_target,
    is_build_folder,
    is_report_folder,
    new_build_folder,
    remove_stale_builds,
    report_lock,
)
from trialkit.report.jsontypes import JsonTypeError, check_json_value, load_yaml_json

__all__ = [
    "RunParams",
    "RunResult",
    "NotebookResult",
    "NotebookFailed",
    "RunInterrupted",
    "ParamsError",
    "load_params",
    "discover_notebooks",
    "notebook_parameters",
    "check_horizons",
    "HORIZON_PARAMETERS",
    "notebook_stem_matches",
    "run_report",
    "execute_notebooks",
    "refresh_notebooks",
    "notebook_differences",
    "kernel_env",
    "project_root",
    "STANDARD_PARAMETERS",
    "notebook_kernelspec",
]

#: The parameters every notebook's ``parameters`` cell declares (see the notebook conventions).
STANDARD_PARAMETERS = ("dataset", "study", "scenario", "seed", "alpha", "out_dir", "allow_listings")
CODE_MODES = ("show", "fold", "hide")
KERNEL_NAME = "python3"
START_TIMEOUT = 300  # seconds for a kernel to come up (generous: several start at once on few cores)


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


def project_root() -> Path:
    """The checkout this package lives in (the folder holding ``params/`` and ``notebooks/``).

    Examples
    --------
    >>> root = project_root()
    >>> (root / "params" / "default.yaml").is_file(), (root / "trialkit" / "report" / "runner.py").is_file()
    (True, True)
    """
    return Path(__file__).resolve().parents[2]


class ParamsError(TrialkitError):
    """The run-parameters file is unreadable or inconsistent."""


class RunInterrupted(BaseException):
    """The run received SIGINT or SIGTERM; kernels and the build were cleaned up.

    A :class:`BaseException` (like KeyboardInterrupt), so no ``except Exception`` swallows it.
    ``exit_code`` is 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.name}")


class _interruptible:
    """Turn SIGINT and SIGTERM into :class:`RunInterrupted` in the main thread for the duration.

    Installed explicitly: a process started in the background by a non-interactive shell inherits
    SIGINT *ignored*, and Python's default SIGTERM action ends the process without any clean-up.
    A second signal during the clean-up is ignored. Outside the main thread this does nothing.
    """

    def __enter__(self):
        import signal

        self.previous = {}
        self.fired = False
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.fired:
            return
        self.fired = True
        raise RunInterrupted(signum)

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        return False


class NotebookFailed(Exception):
    """One or more notebooks raised; ``failures`` holds a :class:`NotebookResult` for each.

    Not a :class:`~trialkit.errors.TrialkitError`: the CLI exits 1 (a notebook failed), not 2 (bad
    input).
    """

    def __init__(self, failures: list["NotebookResult"], kept: Path | None = None):
        self.failures = failures
        self.kept = kept
        lines = [f.describe() for f in failures]
        if kept is not None:
            lines.append(f"the failed build is kept in {kept} (the previous report is untouched)")
        super().__init__("\n".join(lines))


# ------------------------------------------------------------------------------------------------
# Run parameters
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunParams:
    """The run parameters (``params/default.yaml``); relative paths are relative to the working folder.

    Attributes
    ----------
    name : str
        Report folder name: the report lands in ``<outputs>/<name>``.
    outputs : str
        Folder holding the reports (default ``outputs``).
    dataset : str
        ``"simulate"`` or a dataset directory / Excel workbook.
    scenario : str, dict or None
        With ``simulate``: a scenario YAML (path or bare name), or an inline scenario mapping
        (``extends:`` a bundled one); ``None`` = ``params/scenarios/default.yaml``.
    seed, n_subjects : int or None
        With ``simulate``: the seed (``None`` = the scenario's) and number of subjects.
    study : str or None
        Study file; ``None`` = the dataset's own ``study.yaml`` (simulated data carry the one used),
        else ``params/study.yaml``.
    alpha : float
        Two-sided significance level passed to every notebook.
    horizons : dict or None
        ``{primary: days, secondary: days}`` overriding the study file's; ``None`` = the study's.
    code : {"show", "fold", "hide"}
        Code cells in the HTML: shown, folded under a "Code" toggle, or left out.
    allow_listings : bool
        True only for internal reports: notebooks may show subject-level listings and the
        identifier check is skipped.
    notebooks : str
        Folder of the notebooks (``notebooks``).
    notebook_parameters : dict
        Extra parameters per notebook (``{"04_predictive": {"n_splits": 5}}``); each must be
        declared in that notebook's ``parameters`` cell.
    cell_timeout : int or None
        Seconds a single cell may run (``None`` = no limit).
    archive : dict
        Metadata of the supplementary-material archive (``trialkit archive``): title, authors,
        version, description, keywords, license_content, license_code, repository_code; see
        :mod:`trialkit.report.archive`.
    pseudonymize_ids : {"auto", True, False}
        With a dataset (not ``simulate``): the notebooks see pseudonyms (``PSN001`` …, see
        :mod:`trialkit.data.ids`) instead of the subject ids — always (``true``), never
        (``false``), or when some ids cannot be told apart from ordinary numbers or words and the
        report is not internal (``auto``).
    source : str or None
        The YAML file these parameters came from.
    """

    name: str = "default"
    outputs: str = "outputs"
    dataset: str = "simulate"
    scenario: Any = None
    seed: int | None = None
    n_subjects: int | None = None
    study: str | None = None
    alpha: float = 0.05
    horizons: dict | None = None
    code: str = "fold"
    allow_listings: bool = False
    notebooks: str = "notebooks"
    notebook_parameters: dict = field(default_factory=dict)
    cell_timeout: int | None = None
    archive: dict = field(default_factory=dict)
    pseudonymize_ids: Any = "auto"
    source: str | None = None

    @property
    def simulate(self) -> bool:
        return str(self.dataset) == "simulate"

    def as_dict(self) -> dict:
        return asdict(self)


_KEYS = tuple(f for f in RunParams.__dataclass_fields__ if f != "source")
_NULLABLE = ("scenario", "seed", "n_subjects", "study", "horizons", "cell_timeout")  # null = "default"


def _fail(src: str, key: str, msg: str) -> ParamsError:
    return ParamsError(f"{src}: {key}: {msg}")


def _check_params(raw: dict, src: str) -> RunParams:
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise _fail(src, unknown[0], f"unknown key; expected one of {', '.join(_KEYS)}")
    try:
        check_json_value({k: v for k, v in raw.items() if k != "source"})
    except JsonTypeError as exc:
        raise ParamsError(f"{src}: {exc}") from None
    p = RunParams(**{k: v for k, v in raw.items() if v is not None or k in _NULLABLE}, source=src)
    if not isinstance(p.name, str) or not p.name or "/" in p.name or p.name.startswith("."):
        raise _fail(src, "name", f"expected a folder name, got {p.name!r}")
    for key in ("outputs", "dataset", "notebooks"):
        if not isinstance(getattr(p, key), str) or not getattr(p, key):
            raise _fail(src, key, f"expected a path, got {getattr(p, key)!r}")
    if p.study is not None and not isinstance(p.study, str):
        raise _fail(src, "study", f"expected a study file path or null, got {p.study!r}")
    if p.scenario is not None and not isinstance(p.scenario, (str, dict)):
        raise _fail(src, "scenario", f"expected a scenario file, an inline mapping or null, got {p.scenario!r}")
    if not p.simulate and (p.scenario is not None or p.seed is not None or p.n_subjects is not None):
        raise _fail(src, "dataset", "scenario, seed and n_subjects apply only when dataset is 'simulate'")
    for key in ("seed", "n_subjects", "cell_timeout"):
        v = getattr(p, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "seed" else 1)):
            raise _fail(src, key, f"expected a whole number, got {v!r}")
    if isinstance(p.alpha, bool) or not isinstance(p.alpha, (int, float)) or not 0 < p.alpha < 1:
        raise _fail(src, "alpha", f"expected a number between 0 and 1, got {p.alpha!r}")
    if p.horizons is not None:
        if not isinstance(p.horizons, dict) or not p.horizons:
            raise _fail(src, "horizons",
                        f"expected a mapping like {{primary: 336, secondary: 168}}, got {p.horizons!r}")
        for k, v in p.horizons.items():
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise _fail(src, f"horizons.{k}", f"expected a positive number of days, got {v!r}")
    if p.code not in CODE_MODES:
        raise _fail(src, "code", f"expected one of {', '.join(CODE_MODES)}, got {p.code!r}")
    if not isinstance(p.allow_listings, bool):
        raise _fail(src, "allow_listings", f"expected true or false, got {p.allow_listings!r}")
    if not (p.pseudonymize_ids == "auto" or isinstance(p.pseudonymize_ids, bool)):
        raise _fail(src, "pseudonymize_ids", f"expected auto, true or false, got {p.pseudonymize_ids!r}")
    if not isinstance(p.notebook_parameters, dict) or not all(
            isinstance(v, dict) for v in p.notebook_parameters.values()):
        raise _fail(src, "notebook_parameters", "expected a mapping notebook name -> {parameter: value}")
    from trialkit.report.archive import check_settings

    check_settings(p.archive, src)
    return p


def load_params(path: str | Path | None = None, **overrides: Any) -> RunParams:
    """Read run parameters from YAML (default ``params/default.yaml``), then apply ``overrides``.

    Raises
    ------
    ParamsError
        Naming the file and the key, for unknown keys and bad values.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "params.yaml"
    >>> _ = f.write_text("name: pilot\\nalpha: 0.01\\nn_subjects: 40\\ncode: hide\\n")
    >>> p = load_params(f, code="show")          # keyword overrides win over the file
    >>> p.name, p.dataset, p.alpha, p.n_subjects, p.code, p.simulate
    ('pilot', 'simulate', 0.01, 40, 'show', True)
    >>> load_params(f, alpha=1.5)
    Traceback (most recent call last):
    ...
    trialkit.report.runner.ParamsError: ...params.yaml: alpha: expected a number between 0 and 1, got 1.5
    """
    if path is None:
        path = Path("params/default.yaml")
        if not path.is_file():
            path = project_root() / "params" / "default.yaml"
    path = Path(path)
    src = str(path)
    try:
        raw = load_yaml_json(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{src}: not valid YAML: {exc}") from None
    except JsonTypeError as exc:
        raise ParamsError(f"{src}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{src}: expected a mapping of run parameters")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return _check_params(raw, src)


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
    >>> folder = project_root() / "tests" / "fixtures" / "notebooks" / "report"
    >>> [p.name for p in discover_notebooks(folder)]
    ['01_summary.ipynb', '02_outcomes.ipynb']
    >>> [p.stem for p in discover_notebooks(folder, only=["outcomes"])]
    ['02_outcomes']
    >>> discover_notebooks(folder, only=["03"])
    Traceback (most recent call last):
    ...
    trialkit.report.runner.ParamsError: --only 03: no such notebook in ... (have: 01_summary, 02_outcomes)
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


def notebook_parameters(nb_or_path) -> dict[str, Any]:
    """Names and literal defaults of a notebook's ``parameters`` cell (``{}`` when it has none).

    Examples
    --------
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
            for node in ast.parse(cell.source).body:
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


def kernel_env() -> dict[str, str]:
    """The environment every kernel runs in: deterministic hashing, one BLAS thread, UTC.

    Examples
    --------
    >>> env = kernel_env()
    >>> env["PYTHONHASHSEED"], env["OMP_NUM_THREADS"], env["TZ"], "MPLBACKEND" in env
    ('0', '1', 'UTC', False)
    """
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # let ipykernel choose the inline backend
    env.update({
        "PYTHONHASHSEED": "0",
        "SOURCE_DATE_EPOCH": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TZ": "UTC",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silence debugpy's start-up note on the kernel's stderr
    })
    return env


def _kernel_manager_class(sock_dir: Path, extra_env: dict | None = None):
    """A KernelManager class that starts *this* interpreter's ipykernel on private IPC sockets.

    - the kernel command is ``sys.executable -m ipykernel_launcher``, whatever kernelspecs a user
      has installed elsewhere (a ``python3`` spec in ``~/.local`` cannot hijack the run);
    - transport ``ipc`` with a unique socket prefix per kernel: no TCP ports to pick, so kernels
      started at the same moment cannot collide (papermill #239/#511);
    - the kernel process's own stdout/stderr (start-up noise; cell output travels over the
      sockets) is discarded, so it cannot garble the progress display.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    counter = itertools.count()
    lock = threading.Lock()
    started: list = []  # every kernel manager that launched a kernel: what kill_kernels stops
    spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                      display_name=notebook_kernelspec()["display_name"], language="python")

    class TrialkitKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):
            with lock:
                self._tk_n = next(counter)
            return str(sock_dir / f"k{self._tk_n}")

        @default("connection_file")
        def _default_connection_file(self):  # beside the sockets: one folder to remove, not ~/.local/share
            with lock:
                return str(sock_dir / f"kernel-{next(counter)}.json")

        @property
        def kernel_spec(self):
            return spec

        async def _async_pre_start_kernel(self, **kw):
            kw.setdefault("env", {**kernel_env(), **(extra_env or {})})
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
            with lock:
                started.append(self)
            return await super()._async_pre_start_kernel(**kw)

    TrialkitKernelManager.started = started
    return TrialkitKernelManager


def remove_stale_kernel_dirs(tmp: str | Path | None = None) -> list[Path]:
    """Remove the kernel folders (connection files, sockets) of runs that were killed (SIGKILL, power cut).

    A run keeps them in ``<tmp>/tk-k<pid>-XXXX``; a folder whose process no longer exists is stale.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> (tmp / "tk-k999999999-abc").mkdir(); (tmp / f"tk-k{os.getpid()}-def").mkdir()
    >>> [p.name for p in remove_stale_kernel_dirs(tmp)], sorted(p.name for p in tmp.iterdir()) == [f"tk-k{os.getpid()}-def"]
    (['tk-k999999999-abc'], True)
    """
    removed = []
    for d in Path(tmp or tempfile.gettempdir()).glob("tk-k*-*"):
        pid = d.name[4:].split("-", 1)[0]
        if not (pid.isdigit() and d.is_dir() and not d.is_symlink()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # no such process: stale
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        except (PermissionError, OverflowError):  # another user's live process, or not a process id
            pass
    return removed


def kill_kernels(km_class) -> int:
    """Kill every kernel a :func:`_kernel_manager_class` class started (with its process group: a
    notebook's worker processes too) and remove their connection and socket files; return how many.

    Used on interruption: a kernel busy in a cell does not answer a polite shutdown request.
    """
    import signal

    killed = 0
    for km in list(getattr(km_class, "started", [])):
        prov = getattr(km, "provisioner", None)
        proc = getattr(prov, "process", None)
        pgid = getattr(prov, "pgid", None)
        try:
            if pgid and hasattr(os, "killpg") and pgid != os.getpgid(0):
                os.killpg(pgid, signal.SIGKILL)
                killed += 1
            elif proc is not None and proc.poll() is None:
                proc.kill()
                killed += 1
        except (ProcessLookupError, PermissionError, OSError):
            pass
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except Exception:  # pragma: no cover - a zombie we cannot reap: the system will
                pass
        for cleanup in ("cleanup_connection_file", "cleanup_ipc_files"):
            try:
                getattr(km, cleanup)()
            except Exception:  # pragma: no cover - already gone
                pass
    return killed


@dataclass
class NotebookJob:
    """One notebook to execute: source, output path, injected parameters, kernel working folder."""

    name: str
    source: Path
    output: Path
    parameters: dict
    cwd: Path
    post: Callable[["NotebookJob"], None] | None = None  # called in the worker after success


@dataclass
class NotebookResult:
    """What happened to one notebook."""

    name: str
    status: str = "queued"  # queued | starting | running | done | failed | cancelled | reused
    seconds: float = 0.0  # executing the cells (the kernel's start-up and imports are not counted)
    started: float | None = None  # time.perf_counter() when execution began
    cell: int | None = None  # 1-based cell number in the source notebook of the failing cell
    exec_count: int | None = None
    error: str | None = None  # "ValueError: message"
    cell_source: str | None = None
    cells: int = 0
    stage: str = "cells"  # where a failure happened: "kernel start-up" | "cells" | "rendering"

    def describe(self) -> str:
        if self.status != "failed":
            return f"{self.name}: {self.status}"
        where = f"cell {self.cell}" if self.cell is not None else (
            self.stage if self.stage != "cells" else "kernel start-up")
        if self.exec_count is not None:
            where += f" (In [{self.exec_count}])"
        first = (self.cell_source or "").strip().splitlines()
        code = f"\n    > {first[0][:100]}" if first else ""
        return f"notebook {self.name}.ipynb failed in {where}: {self.error}{code}"


class Progress:
    """Which notebooks are queued, running (with the current cell) and done, on stderr.

    On a terminal the block of lines is redrawn in place; otherwise one line per change.
    """

    def __init__(self, results: list[NotebookResult], stream=None, live: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.results = {r.name: r for r in results}
        self.live = self.stream.isatty() if live is None else live
        self.t0 = time.perf_counter()
        self.started: dict[str, float] = {}
        self.current: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self._stop = threading.Event()
        self._ticker = None
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def note(self, text: str) -> None:
        with self.lock:
            self._clear()
            print(f"[{time.perf_counter() - self.t0:6.1f}s] {text}", file=self.stream, flush=True)
            self._draw()

    def update(self, name: str, status: str | None = None, cell: tuple[int, int] | None = None) -> None:
        with self.lock:
            r = self.results[name]
            if cell is not None:
                self.current[name] = cell
            if status is not None and status != r.status:
                r.status = status
                if status == "running":
                    self.started[name] = time.perf_counter()
                if not self.live:
                    extra = f" in {r.seconds:.1f} s" if status in ("done", "failed") else ""
                    print(f"[{time.perf_counter() - self.t0:6.1f}s] {name}: {status}{extra}",
                          file=self.stream, flush=True)
            if self.live:
                self._clear()
                self._draw()

    def _line(self, r: NotebookResult) -> str:
        if r.status == "running":
            i, n = self.current.get(r.name, (0, 0))
            el = time.perf_counter() - self.started.get(r.name, self.t0)
            return f"  {r.name:<28} running  cell {i}/{n}  {el:5.1f} s"
        if r.status == "starting":
            return f"  {r.name:<28} starting kernel"
        if r.status in ("done", "failed"):
            return f"  {r.name:<28} {r.status:<8} {r.seconds:5.1f} s"
        return f"  {r.name:<28} {r.status}"

    def _clear(self) -> None:
        if self.live and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self) -> None:
        if self.live:
            lines = [self._line(r) for r in self.results.values()]
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
            self.drawn = len(lines)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                self._clear()
                self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()


class _quiet_papermill:
    """Silence papermill's logger during a run: the progress display says what matters, and the
    injected parameters were checked against each parameters cell before the run
    (``tests/test_notebooks.py`` checks that papermill reads every parameter of every notebook)."""

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("papermill")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
        return False


def _source_cell_number(source_nb, executed_index: int) -> int | None:
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


def _fast_imports() -> None:
    """Import jsonschema (via nbformat) without its optional ``rfc3987_syntax`` checker.

    That package builds a lark grammar at import time (~0.8 s, a third of the runner's start-up)
    to validate the ``iri`` string formats, which the notebook schema never uses. Only the first
    import is affected; ``rfc3987_syntax`` stays importable afterwards.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # makes its import fail: jsonschema then skips "iri"
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]


def _execute_one(job: NotebookJob, result: NotebookResult, progress: Progress | None,
                 km_class, cell_timeout: int | None, km=None) -> NotebookResult:
    """Execute one notebook with papermill (in a kernel of ``km_class``, or the started ``km``)."""
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src_nb = nbformat.read(str(job.source), as_version=4)
    injected = bool(job.parameters)
    n_cells = len(src_nb.cells) + (1 if injected else 0)
    result.cells = len(src_nb.cells)
    current = {"index": None}

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index
        if progress is not None:
            progress.update(job.name, cell=(cell_index + 1, n_cells))

    def _cell(index):
        return _source_cell_number(src_nb, index) if injected else (index + 1 if index is not None else None)

    _set_status(progress, job.name, result, "running")
    kernel = {"km": km} if km is not None else {"kernel_manager_class": km_class}
    t0 = result.started = time.perf_counter()
    try:
        pm.execute_notebook(
            str(job.source), str(job.output), parameters=job.parameters or None,
            kernel_name=KERNEL_NAME, progress_bar=False, log_output=False,
            request_save_on_cell_execute=False, start_timeout=START_TIMEOUT,
            execution_timeout=cell_timeout, record_timing=False,
            resources={"metadata": {"path": str(job.cwd)}}, on_cell_start=on_cell_start, **kernel,
        )
        result.seconds = time.perf_counter() - t0
        status = "done"
    except PapermillExecutionError as exc:
        result.seconds = time.perf_counter() - t0
        result.cell = _cell(exc.cell_index)
        result.exec_count = exc.exec_count
        result.error = f"{exc.ename}: {exc.evalue}".rstrip(": ")
        result.cell_source = exc.source
        status = "failed"
    except Exception as exc:  # kernel death, start-up timeout, cell timeout, unreadable notebook
        result.seconds = time.perf_counter() - t0
        result.cell = _cell(current["index"])
        msg = str(exc).strip().splitlines()
        result.error = f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")
        if result.cell is not None and 0 < result.cell <= len(src_nb.cells):
            result.cell_source = src_nb.cells[result.cell - 1].source
        status = "failed"
    if status == "done" and job.post is not None:
        try:
            job.post(job)
        except Exception as exc:  # e.g. nbconvert cannot render an output
            result.stage, result.error, status = "rendering", f"{type(exc).__name__}: {exc}", "failed"
    _set_status(progress, job.name, result, status)
    return result


def _set_status(progress: Progress | None, name: str, result: NotebookResult, status: str) -> None:
    if progress is not None:
        progress.update(name, status)
    else:
        result.status = status


def _top_level_imports(path: Path) -> list[str]:
    """The module-level ``import`` statements of a notebook's code cells (to pre-import)."""
    import nbformat

    lines: list[str] = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:
            continue
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                stmt = ast.unparse(node)
                if stmt not in lines:
                    lines.append(stmt)
    return lines


class NotebookPool:
    """Execute notebooks on up to ``n_jobs`` kernels at once, from threads of this one process.

    With ``warm=True`` each worker starts the kernel for its next notebook at once, importing that
    notebook's modules (its module-level ``import`` statements, as IPython ``exec_lines``, silently:
    no output, no execution count), and executes it only after :meth:`release` — so kernel
    start-up and imports overlap the driver's own preparation (simulating the dataset, importing
    papermill). :meth:`abort` instead shuts those kernels down.

    Jobs are taken in ``jobs`` order (put the longest first); results come back in that order.
    With ``fail_fast`` notebooks not yet started when one fails are ``cancelled``.
    """

    def __init__(self, jobs: list[NotebookJob], n_jobs: int | None = None, *, progress: Progress | None = None,
                 cell_timeout: int | None = None, fail_fast: bool = True, warm: bool = False,
                 results: list[NotebookResult] | None = None, env: dict | None = None):
        if results is None:
            results = ([progress.results[j.name] for j in jobs] if progress is not None
                       else [NotebookResult(j.name) for j in jobs])
        self.pairs = list(zip(jobs, results))
        self.results = results
        self.n_jobs = max(1, min(n_jobs or default_jobs(), len(jobs)))
        self.progress, self.cell_timeout, self.fail_fast, self.warm = progress, cell_timeout, fail_fast, warm
        self.env = env  # added to every kernel's environment
        self.queue = list(self.pairs)
        self.lock = threading.Lock()
        self.go, self.stop, self.aborted = threading.Event(), threading.Event(), False
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> "NotebookPool":
        _fast_imports()
        remove_stale_kernel_dirs()
        # short (unix socket paths are limited); the pid lets a later run remove it if this one is killed
        self._sock = tempfile.TemporaryDirectory(prefix=f"tk-k{os.getpid()}-")
        self.km_class = _kernel_manager_class(Path(self._sock.name), self.env)
        self._quiet = _quiet_papermill()
        self._quiet.__enter__()
        self.threads = [threading.Thread(target=self._worker, name=f"notebook-{i}", daemon=True)
                        for i in range(self.n_jobs)]
        for t in self.threads:
            t.start()
        return self

    def release(self) -> None:
        """The inputs are ready: execute."""
        import papermill  # noqa: F401 - imported once here, not concurrently by the workers

        self.go.set()

    def abort(self) -> None:
        """Do not execute anything (the preparation failed): shut pre-started kernels down."""
        self.aborted = True
        self.stop.set()
        self.go.set()
        self.join()

    def join(self) -> list[NotebookResult]:
        for t in self.threads:
            t.join()
        self._quiet.__exit__(None, None, None)
        self._sock.cleanup()
        if self.errors:
            raise self.errors[0]
        return self.results

    def kill(self, wait: float = 20.0) -> None:
        """Interrupted: run nothing more, kill every kernel at once, remove connection files and sockets."""
        self.aborted = True
        self.stop.set()
        self.go.set()
        kill_kernels(self.km_class)
        deadline = time.monotonic() + wait
        for t in self.threads:  # the workers notice their dead kernels; daemon threads: never waited for long
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        kill_kernels(self.km_class)  # any kernel a worker started meanwhile
        self._quiet.__exit__(None, None, None)
        shutil.rmtree(self._sock.name, ignore_errors=True)

    def _next(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def _worker(self) -> None:
        from jupyter_core.utils import run_sync

        while (item := self._next()) is not None:
            job, res = item
            km = None
            try:
                if self.stop.is_set():
                    _set_status(self.progress, job.name, res, "cancelled")
                    continue
                if self.warm and not self.go.is_set():
                    _set_status(self.progress, job.name, res, "starting")
                    km = self.km_class(kernel_name=KERNEL_NAME)
                    imports = ["import matplotlib.pyplot", "import seaborn"]  # what notebook_setup() imports
                    lines = [f"--IPKernelApp.exec_lines={s}" for s in imports + _top_level_imports(job.source)]
                    try:
                        run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:", *lines],
                                                  cwd=str(job.cwd))
                    except Exception as exc:  # the kernel cannot be launched: this notebook fails
                        km = None
                        res.stage, res.error = "kernel start-up", f"{type(exc).__name__}: {exc}"
                        _set_status(self.progress, job.name, res, "failed")
                        if self.fail_fast:
                            self.stop.set()
                        continue
                self.go.wait()
                if self.aborted or (self.stop.is_set() and self.fail_fast):
                    _set_status(self.progress, job.name, res, "cancelled")
                    continue
                _execute_one(job, res, self.progress, self.km_class, self.cell_timeout, km=km)
                if res.status == "failed" and self.fail_fast:
                    self.stop.set()
            except BaseException as exc:  # a bug in the runner, not a notebook failure
                self.errors.append(exc)
                self.stop.set()
            finally:
                if km is not None:
                    try:
                        run_sync(km.shutdown_kernel)(now=True)
                    except Exception:  # pragma: no cover - already dead
                        pass


def execute_notebooks(jobs: list[NotebookJob], n_jobs: int | None = None, *, progress: Progress | None = None,
                      cell_timeout: int | None = None, fail_fast: bool = True,
                      results: list[NotebookResult] | None = None) -> list[NotebookResult]:
    """Execute notebooks in parallel (up to ``n_jobs`` kernels at once) from this process.

    Returns one :class:`NotebookResult` per job, in job order (filled in place when ``results``
    is given). See :class:`NotebookPool`.

    Examples
    --------
    Execute a one-cell notebook (one kernel start, about two seconds):

    >>> import tempfile, pathlib, nbformat
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]),
    ...                str(tmp / "01_answer.ipynb"))
    >>> job = NotebookJob(name="01_answer", source=tmp / "01_answer.ipynb", output=tmp / "out.ipynb",
    ...                   parameters={}, cwd=tmp)
    >>> [res] = execute_notebooks([job], 1)
    >>> res.status, res.cells, res.seconds > 0
    ('done', 1, True)
    >>> nbformat.read(str(tmp / "out.ipynb"), as_version=4).cells[0].outputs[0]["text"]
    '42\\n'
    """
    pool = NotebookPool(jobs, n_jobs, progress=progress, cell_timeout=cell_timeout, fail_fast=fail_fast,
                        results=results).start()
    pool.release()
    return pool.join()


def default_jobs() -> int:
    """Number of usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """The outcome of :func:`run_report`."""

    target: Path
    notebooks: list[NotebookResult]
    manifest: dict


def _resolve(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _resolve_input(path: str | Path) -> Path:
    """An input path: as given (relative to the working folder), else relative to the checkout."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or not (project_root() / p).exists():
        return p.resolve()
    return (project_root() / p).resolve()


def _rel_or_abs(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when they share a root (portable in published notebooks)."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:  # pragma: no cover - different drives on Windows
        return path.as_posix()


def _write_study(src: Path, horizons: dict | None, dest: Path) -> None:
    """Copy the study file, with ``horizons`` replaced when the run parameters override them."""
    text = src.read_text(encoding="utf-8")
    if horizons:
        raw = yaml.safe_load(text)
        merged = dict(raw.get("horizons") or {})
        merged.update(horizons)
        if merged != raw.get("horizons"):
            raw["horizons"] = merged
            text = (f"# {src.name} with horizons from the run parameters: "
                    f"{', '.join(f'{k} {v}' for k, v in horizons.items())}\n"
                    + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    dest.write_text(text, encoding="utf-8", newline="\n")


def _write_scenario(scenario, params: RunParams, dest: Path) -> tuple[Path, list[Path]]:
    """Write the run's scenario, ``extends`` applied and ``n_subjects`` folded into its allocation, as
    one self-contained YAML file; return the study file the simulation uses and the scenario files read
    (the scenario's own, then every file it ``extends``: the manifest hashes them)."""
    from trialkit.simulate import load_scenario
    from trialkit.simulate.scenario import ratio_from_sizes
    from trialkit.study import default_study_path

    sc = load_scenario(scenario)
    raw = dict(sc.raw)
    if params.n_subjects is not None:
        ratio = sc.allocation_ratio if sc.allocation_ratio is not None else ratio_from_sizes(sc.allocation_sizes)
        raw["allocation"] = {"ratio": dict(ratio), "total": int(params.n_subjects)}
    raw["study"] = None  # the notebooks get study.yaml explicitly
    if params.study:
        study_src = _resolve_input(params.study)
    else:
        study_src = Path(sc.study) if sc.study else default_study_path()
    from trialkit.report.archive import neutral_paths  # no machine path in a published file

    shown = ("inline" if sc.source == "<scenario dict>"
             else neutral_paths(str(Path(sc.source).resolve()), project_root()))
    text = (f"# The scenario this report simulated ({shown}"
            f"{', n_subjects ' + str(params.n_subjects) if params.n_subjects is not None else ''}), "
            "self-contained.\n" + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    dest.write_text(text, encoding="utf-8", newline="\n")
    return study_src, [Path(f) for f in sc.files]


def _prepare_inputs(params: RunParams, build: Path, progress: Progress | None) -> dict:
    """Simulate (into ``data/``, with a self-contained ``scenario.yaml``) or locate the dataset; write
    ``study.yaml``; return what notebooks need."""
    inputs: list[tuple[str, Path]] = []
    info: dict[str, Any] = {}
    if params.simulate:
        from trialkit.simulate import write_simulation

        if progress is not None:
            progress.note("simulating the dataset into data/")
        scenario = params.scenario
        if isinstance(scenario, str) and _resolve_input(scenario).is_file():
            scenario = str(_resolve_input(scenario))
        study_src, scenario_files = _write_scenario(scenario, params, build / "scenario.yaml")
        _write_study(study_src, params.horizons, build / "study.yaml")
        # the notebooks simulate the same trial in memory from study.yaml + scenario.yaml + seed (so they
        # keep the simulation truth); data/ holds its files for the manifest and for re-analysis
        trial = write_simulation(build / "data", study=build / "study.yaml", scenario=build / "scenario.yaml",
                                 seed=params.seed, fmt="csv")
        info["dataset_source"] = trial.source
        for f in sorted((build / "data").iterdir()):
            inputs.append(("data", f))
        for f in scenario_files:
            inputs.append(("scenario", f))
        inputs.append(("study", study_src))
        subject_ids = [str(s) for s in trial.subjects["subject_id"]]
    else:
        from trialkit.data.load import load

        data = _resolve_input(params.dataset)
        if not data.exists():
            raise ParamsError(f"{params.source}: dataset: {params.dataset} does not exist")
        if progress is not None:
            progress.note(f"validating {params.dataset}")
        if params.study:
            study_src = _resolve_input(params.study)
        elif data.is_dir() and (data / "study.yaml").is_file():
            study_src = data / "study.yaml"
        else:
            from trialkit.study import default_study_path

            study_src = default_study_path()
        trial = load(data, study_src)
        info["dataset_source"] = str(params.dataset)
        files = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else [data]
        for f in files:
            inputs.append(("data", f))
        inputs.append(("study", study_src))
        info["dataset_path"] = data
        subject_ids = [str(s) for s in trial.subjects["subject_id"]]
        if not study_src.is_file():
            raise ParamsError(f"study file {study_src} does not exist")
        _write_study(study_src, params.horizons, build / "study.yaml")
        mode = params.pseudonymize_ids
        kernel_trial = trial
        if mode is True or (mode == "auto" and ambiguous_ids(subject_ids) and not params.allow_listings):
            if progress is not None:
                progress.note("the notebooks see pseudonyms (PSN001 …), not the subject ids")
            kernel_trial = _pseudonymized(trial)
            subject_ids = [str(s) for s in kernel_trial.subjects["subject_id"]]
        write_validated(kernel_trial, build / KERNEL_INPUT, study_file=build / "study.yaml", dataset=data)
    events = trial.events
    last = events["day"].max() if events is not None and len(events) else None
    info.update(inputs=inputs, subject_ids=subject_ids,
                study_title=f"{trial.study.id}: {trial.study.title}",
                arms=[(a.id, a.label) for a in trial.study.arms],
                horizons={**trial.study.horizons, **(params.horizons or {})}, study_file=str(study_src),
                last_follow_up=None if last is None else float(last))
    return info


#: Folder of the build holding the validated dataset (pseudonymized if so) the kernels read, named to
#: them by the environment variable ``TRIALKIT_VALIDATED``; removed before publishing.
KERNEL_INPUT = ".input"


def _pseudonymized(trial):
    """``trial`` with every ``subject_id`` replaced by its pseudonym. The key is not kept:
    :func:`trialkit.data.ids.pseudonyms` of the subjects table (in its order) rebuilds it."""
    import dataclasses

    key = pseudonyms(trial.subjects["subject_id"].astype(str))
    renamed = {name: df.assign(subject_id=df["subject_id"].astype(str).map(key).astype(df["subject_id"].dtype))
               for name, df in trial.tables().items() if df is not None and "subject_id" in df.columns}
    return dataclasses.replace(trial, **renamed)


#: Notebook parameters that name a time point: the unit of their values. A value given in the run
#: parameters' ``notebook_parameters`` must lie within the data's follow-up (see :func:`check_horizons`).
HORIZON_PARAMETERS = {"horizon": "days", "horizon_days": "days", "landmark_days": "days", "landmark_weeks": "weeks"}


def check_horizons(horizons: dict, last_follow_up: float | None, notebook_parameters: dict | None = None, *,
                   source: str = "<params>", from_params: Iterable[str] = (), study_file: str = "study file") -> None:
    """Refuse horizons and landmarks beyond the last follow-up day of the data.

    Survival at a time nobody was followed to has nobody at risk, and a restricted mean survival
    time up to it is an extrapolation: the report would print numbers the data cannot give. So
    every study horizon (with the run parameters' ``horizons`` applied) and every time point given
    in ``notebook_parameters`` (:data:`HORIZON_PARAMETERS`; weeks count 7 days) must be at most the
    last day recorded in the ``events`` table.

    Parameters
    ----------
    horizons : dict
        ``{name: day}`` as the notebooks will see them.
    last_follow_up : float or None
        Largest ``day`` of the events table (None: no events, nothing to check).
    notebook_parameters : dict, optional
        ``{notebook: {parameter: value}}`` as injected.
    source : str
        The parameters file (for the message).
    from_params : iterable of str
        Horizon names set by the run parameters (the others come from the study file).
    study_file : str
        The study file (for the message).

    Raises
    ------
    ParamsError
        Naming the horizon or parameter, its value and the last follow-up day.

    Examples
    --------
    >>> check_horizons({"primary": 336, "secondary": 168}, 350.0) is None
    True
    >>> check_horizons({"primary": 5000}, 350.0, source="run.yaml", from_params=["primary"])
    Traceback (most recent call last):
    ...
    trialkit.report.runner.ParamsError: run.yaml: horizons.primary: day 5000 is beyond the last follow-up of the data (day 350); ...
    >>> check_horizons({"primary": 336}, 350.0, {"03_efficacy": {"landmark_weeks": [4, 60]}}, source="run.yaml")
    Traceback (most recent call last):
    ...
    trialkit.report.runner.ParamsError: run.yaml: notebook_parameters.03_efficacy.landmark_weeks: week 60 (day 420) is beyond ...
    """
    if last_follow_up is None:
        return
    last = int(last_follow_up) if float(last_follow_up).is_integer() else last_follow_up
    advice = ("nobody is followed that long, so survival, risk sets and RMST there would be extrapolated; "
              f"choose at most day {last}")
    from_params = set(from_params)
    for name, day in horizons.items():
        if isinstance(day, (int, float)) and day > last_follow_up:
            where = f"{source}: horizons.{name}" if name in from_params else f"{study_file}: horizons.{name}"
            raise ParamsError(f"{where}: day {day} is beyond the last follow-up of the data (day {last}); {advice}")
    for nb, values in (notebook_parameters or {}).items():
        for key, unit in HORIZON_PARAMETERS.items():
            if key not in values:
                continue
            items = values[key] if isinstance(values[key], list) else [values[key]]
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue  # a named horizon ("primary") is checked above
                day = v * 7 if unit == "weeks" else v
                if day > last_follow_up:
                    shown = f"week {v} (day {day})" if unit == "weeks" else f"day {v}"
                    raise ParamsError(f"{source}: notebook_parameters.{nb}.{key}: {shown} is beyond the last "
                                      f"follow-up of the data (day {last}); {advice}")


def _notebook_params(params: RunParams, nb: Path, dataset_param: str, declared: dict) -> dict:
    standard = {"dataset": dataset_param, "study": "study.yaml",
                "scenario": "scenario.yaml" if params.simulate else None,
                "seed": params.seed if params.simulate else None,
                "alpha": params.alpha, "out_dir": ".", "allow_listings": params.allow_listings}
    extra = {}
    for key, values in params.notebook_parameters.items():
        if notebook_stem_matches(nb.stem, key):
            extra.update(values)
    undeclared = sorted(k for k in extra if k not in declared)
    if undeclared:
        raise ParamsError(f"{params.source}: notebook_parameters: {nb.stem} has no parameter "
                          f"{', '.join(_with_suggestion(k, declared) for k in undeclared)}; "
                          f"its parameters: {', '.join(declared) or 'none'}")
    out = {k: v for k, v in standard.items() if k in declared}
    out.update(extra)
    return out


def _with_suggestion(name: str, choices) -> str:
    """``name`` followed by the closest of ``choices`` (difflib) as a question, if any is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"{name} (did you mean {close[0]}?)" if close else name


def _check_notebook_keys(params: RunParams, folder: Path) -> None:
    """Every ``notebook_parameters`` key names a notebook of ``folder`` (also those not run)."""
    stems = [p.stem for p in discover_notebooks(folder)]
    unknown = [k for k in params.notebook_parameters if not any(notebook_stem_matches(s, k) for s in stems)]
    if unknown:
        raise ParamsError(f"{params.source}: notebook_parameters: no notebook "
                          f"{', '.join(_with_suggestion(k, stems) for k in unknown)} in {folder} "
                          f"(have: {', '.join(stems)})")


def run_report(params: RunParams | str | Path | None = None, *, out: str | Path | None = None,
               jobs: int | None = None, only: list[str] | None = None, allow_listings: bool | None = None,
               code: str | None = None, progress: bool | Progress | None = True,
               keep_failed: bool = True, force: bool = False) -> RunResult:
    """Execute the notebooks and publish the report into ``out`` (default ``<outputs>/<name>``).

    Parameters
    ----------
    params : RunParams, path or None
        Run parameters or their YAML file (default ``params/default.yaml``).
    out : path, optional
        Report folder; replaced atomically at the very end.
    jobs : int, optional
        Notebooks executed at once (default: the number of cores).
    only : list of str, optional
        Run only these notebooks (the report then holds only them).
    allow_listings, code
        Override the parameters' ``allow_listings`` / ``code``.
    progress : bool or Progress
        Show progress on stderr.
    keep_failed : bool
        After a failure keep the build as ``<out>.failed`` for inspection.
    force : bool
        Re-execute every notebook. Otherwise a notebook whose inputs did not change since the report
        already at ``out`` is reused from it (:mod:`trialkit.report.inputs`).

    Returns
    -------
    RunResult

    Raises
    ------
    NotebookFailed
        A notebook raised (message: notebook, cell, error). The previous report is untouched.
    trialkit.report.publish.PrivacyError
        A subject identifier appears in the rendered outputs (unless ``allow_listings``).
    ParamsError, ValidationError, ScenarioError, StudyFileError
        Bad parameters or inputs.

    Examples
    --------
    A report of one notebook on a small simulated trial (one kernel start, about three seconds):

    >>> import tempfile, pathlib, nbformat, yaml
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> (tmp / "nbs").mkdir()
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hello"),
    ...                                      nbformat.v4.new_code_cell("print(6 * 7)")])
    >>> nbformat.write(nb, str(tmp / "nbs" / "01_hello.ipynb"))
    >>> _ = (tmp / "params.yaml").write_text(yaml.safe_dump(
    ...     {"name": "demo", "outputs": str(tmp / "reports"), "notebooks": str(tmp / "nbs"), "n_subjects": 40}))
    >>> result = run_report(tmp / "params.yaml", jobs=1, progress=False)
    >>> result.target.name, [(r.name, r.status) for r in result.notebooks]
    ('demo', [('01_hello', 'done')])
    >>> sorted(p.name for p in result.target.iterdir())
    ['01_hello.html', '01_hello.ipynb', 'data', 'index.html', 'manifest.json', 'scenario.yaml', 'study.yaml']
    >>> nbformat.read(str(result.target / "01_hello.ipynb"), as_version=4).cells[1].outputs[0]["text"]
    '42\\n'
    >>> result.manifest["report"], [n["status"] for n in result.manifest["notebooks"]]
    ('demo', ['done'])
    """
    started = _dt.datetime.now(_dt.timezone.utc)
    _fast_imports()
    t_start = time.perf_counter()
    if not isinstance(params, RunParams):
        params = load_params(params)
    overrides = {k: v for k, v in (("allow_listings", allow_listings), ("code", code)) if v is not None}
    # checked again even without overrides: a RunParams built in Python never went through load_params
    params = _check_params({**{k: getattr(params, k) for k in _KEYS}, **overrides}, params.source or "<params>")
    if jobs is not None and jobs < 1:
        raise ParamsError(f"--jobs must be at least 1, got {jobs}")
    target = _resolve(out) if out is not None else _resolve(Path(params.outputs) / params.name)
    notebooks = discover_notebooks(_resolve_input(params.notebooks), only)
    _check_notebook_keys(params, _resolve_input(params.notebooks))
    declared = {nb.stem: notebook_parameters(nb) for nb in notebooks}

    dataset_path = None if params.simulate else _resolve_input(params.dataset)
    protected = [("checkout", project_root()), ("notebooks folder", _resolve_input(params.notebooks))]
    if params.source and Path(params.source).is_file():
        protected.append(("parameters file", Path(params.source)))
    if params.study:
        protected.append(("study file", _resolve_input(params.study)))
    datasets = [dataset_path] if dataset_path is not None else []
    check_target(target, inputs=protected, datasets=datasets)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _interruptible(), report_lock(target):
        check_target(target, inputs=protected, datasets=datasets)  # again, now that no other run can write it
        remove_stale_builds(target)
        return _run_locked(params, target, notebooks, declared, progress, jobs, keep_failed, started, t_start,
                           force)


def _run_locked(params, target, notebooks, declared, progress, jobs, keep_failed, started, t_start,
                force) -> RunResult:
    """The body of :func:`run_report`, holding the report's lock."""
    from trialkit.report import publish

    results = [NotebookResult(nb.stem) for nb in notebooks]
    prog = progress if isinstance(progress, Progress) else (Progress(results) if progress else None)
    if isinstance(progress, Progress):
        prog.results = {r.name: r for r in results}
    build = new_build_folder(target)
    ok = False
    pool = None
    try:
        dataset_param = "simulate" if params.simulate else _rel_or_abs(_resolve_input(params.dataset), target)
        jobs_list = []
        for nb in notebooks:
            injected = _notebook_params(params, nb, dataset_param, declared[nb.stem])
            jobs_list.append(NotebookJob(
                name=nb.stem, source=nb, output=build / f"{nb.stem}.ipynb", parameters=injected, cwd=build,
                post=lambda job: publish.finish_notebook(job.output, job.source, code=params.code)))
        by_name = {r.name: r for r in results}
        n_jobs = jobs or default_jobs()
        injected_all = {j.name: j.parameters for j in jobs_list}
        previous = None if force else inputs.previous_manifest(target)
        info, hashes, reused = None, None, []
        if previous is not None:  # a report is there: prepare the inputs first, then reuse what is unchanged
            info = _prepare_inputs(params, build, prog)
            hashes = inputs.notebook_hashes(notebooks, injected_all, info["inputs"], build, code=params.code)
            reused = inputs.reuse_outputs(target, build, hashes, previous)
            for stem in reused:
                _set_status(prog, stem, by_name[stem], "reused")
        ordered = _longest_first([j for j in jobs_list if j.name not in reused], target)
        # kernels start (and import their notebook's modules) while the inputs are prepared
        # a dataset is validated once, here; the kernels read the validated tables (trialkit.data.handoff)
        handoff = None if params.simulate else {HANDOFF_ENV: str(build / KERNEL_INPUT)}
        pool = NotebookPool(ordered, n_jobs, progress=prog, cell_timeout=params.cell_timeout, warm=True,
                            results=[by_name[j.name] for j in ordered], env=handoff).start()
        try:
            info = info or _prepare_inputs(params, build, prog)
            explicit = {nb: dict(values) for nb, values in params.notebook_parameters.items()}
            check_horizons(info["horizons"], info["last_follow_up"], explicit, source=str(params.source),
                           from_params=(params.horizons or {}).keys(), study_file=info["study_file"])
        except RunInterrupted:
            raise
        except BaseException:
            pool.abort()
            raise
        if prog is not None:
            prog.note(f"running {len(ordered)} notebook(s), up to {pool.n_jobs} at once"
                      + (f"; {len(reused)} reused (inputs unchanged)" if reused else ""))
        pool.release()
        pool.join()
        n_used, pool = pool.n_jobs, None  # joined: nothing left to kill on an interruption
        shutil.rmtree(build / KERNEL_INPUT, ignore_errors=True)  # never published
        failed = [r for r in results if r.status == "failed"]
        if failed:
            kept = None
            if keep_failed:
                try:
                    kept = _keep_failed(build, target)
                except (OSError, shutil.Error):  # e.g. the disk is full: the failure itself matters more
                    partial = target.with_name(f"{target.name}.failed")
                    if is_build_folder(partial):
                        shutil.rmtree(partial, ignore_errors=True)
            raise NotebookFailed(failed, kept)
        number_captions(build, [nb.stem for nb in notebooks])  # Table S1, Figure S1, ... in reading order
        publish.write_index(build, params=params, notebooks=[nb.stem for nb in notebooks],
                            study_title=info["study_title"], dataset_source=info["dataset_source"])
        finished = _dt.datetime.now(_dt.timezone.utc)
        manifest = publish.write_manifest(
            build, name=target.name, params=params, inputs=info["inputs"], notebooks=notebooks, results=results,
            injected={j.name: j.parameters for j in jobs_list}, started=started, finished=finished,
            wall_seconds=time.perf_counter() - t_start, jobs=n_used, root=project_root(), t0=t_start)
        manifest = inputs.record_hashes(build, manifest, hashes or inputs.notebook_hashes(
            notebooks, injected_all, info["inputs"], build, code=params.code))
        if not params.allow_listings:
            if prog is not None:
                prog.note("checking every published file for subject identifiers")
            # a simulated run publishes its synthetic dataset in data/ on purpose
            publish.check_privacy(build, info["subject_ids"], [nb.stem for nb in notebooks],
                                  skip=("data",) if params.simulate else ())
        (build / BUILD_MARKER).unlink()  # the signed manifest marks the folder as the kit's from now on
        with _signals_blocked():  # the swap is two renames: not to be split by a signal
            replace_dir(build, target)
        ok = True
        if prog is not None:
            prog.note(f"report published in {target}")
        return RunResult(target=target, notebooks=results, manifest=manifest)
    except RunInterrupted:
        if pool is not None:
            pool.kill()
        raise
    finally:
        if prog is not None and not isinstance(progress, Progress):
            prog.close()
        if not ok and build.exists():
            shutil.rmtree(build, ignore_errors=True)


class _signals_blocked:
    """Hold SIGINT and SIGTERM back (delivered on exit) while a few file-system steps must finish."""

    def __enter__(self):
        import signal

        self.sigs = {signal.SIGINT, signal.SIGTERM}
        self.ok = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        if self.ok:
            signal.pthread_sigmask(signal.SIG_BLOCK, self.sigs)
        return self

    def __exit__(self, *exc):
        import signal

        if self.ok:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.sigs)
        return False


def _longest_first(jobs: list[NotebookJob], target: Path) -> list[NotebookJob]:
    """Jobs ordered longest first, so that a long notebook does not start last.

    Durations come from the previous report at ``target``, else from other reports beside it
    (newest first). Notebooks never timed go first, in reverse reading order: the later
    notebooks (modelling, design simulation) are the heavier ones in this kit.
    """
    seconds: dict[str, float] = {}
    manifests = [target / "manifest.json"] + sorted(target.parent.glob("*/manifest.json"),
                                                    key=lambda p: -p.stat().st_mtime)
    for path in manifests:
        try:
            for n in json.loads(path.read_text(encoding="utf-8")).get("notebooks", []):
                if n.get("status") == "done":
                    seconds.setdefault(n["name"], float(n["seconds"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    unknown = [j for j in reversed(jobs) if j.name not in seconds]
    return unknown + sorted((j for j in jobs if j.name in seconds), key=lambda j: -seconds[j.name])


def _keep_failed(build: Path, target: Path) -> Path | None:
    """Copy the failed build (without ``data/``) to ``<target>.failed``, replacing only a kept build."""
    kept = target.with_name(f"{target.name}.failed")
    if kept.exists() or kept.is_symlink():
        if not (kept.is_dir() and not kept.is_symlink() and (is_build_folder(kept) or is_report_folder(kept))):
            return None  # not the kit's: never replaced
        shutil.rmtree(kept)
    shutil.copytree(build, kept, ignore=shutil.ignore_patterns("data"))
    return kept


# ------------------------------------------------------------------------------------------------
# make notebooks: re-execute committed notebooks in place
# ------------------------------------------------------------------------------------------------
def refresh_notebooks(paths: list[str | Path] | None = None, jobs: int | None = None,
                      progress: bool = True, into: str | Path | None = None) -> list[NotebookResult]:
    """Re-execute notebooks with their default parameters, in place (``make notebooks``) or into a folder.

    Each runs in its own folder (as JupyterLab runs it); run-dependent metadata is stripped,
    each cell keeps its original metadata and the notebook gets the environment's kernelspec
    (:func:`notebook_kernelspec`), so an unchanged analysis gives an unchanged file. A notebook
    is rewritten only if it ran without error.

    Parameters
    ----------
    paths : list of path, optional
        Notebooks (default: ``notebooks/NN_*.ipynb`` of the checkout).
    jobs : int, optional
        Notebooks executed at once (default: the number of cores).
    progress : bool
        Show progress on stderr.
    into : path, optional
        Write the refreshed notebooks into this folder (same file names) and leave the sources
        untouched; they still run in their own folder. See :func:`notebook_differences`.

    Returns
    -------
    list of NotebookResult

    Examples
    --------
    Refresh a copy of a one-cell notebook (one kernel start, about two seconds):

    >>> import tempfile, pathlib, nbformat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "01_answer.ipynb"
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")]), str(path))
    >>> [(r.name, r.status) for r in refresh_notebooks([path], progress=False)]
    [('01_answer', 'done')]
    >>> nb = nbformat.read(str(path), as_version=4)
    >>> nb.cells[0].execution_count, nb.cells[0].outputs[0]["data"], "papermill" in nb.metadata
    (1, {'text/plain': '42'}, False)
    """
    from trialkit.report import publish

    paths = [Path(p) for p in paths] if paths else discover_notebooks(project_root() / "notebooks")
    if into is not None:
        into = Path(into)
        into.mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copyfile(p, into / p.name)
    results = [NotebookResult(p.stem) for p in paths]
    prog = Progress(results) if progress else None
    tmp = Path(tempfile.mkdtemp(prefix="tk-refresh-"))
    try:
        jobs_list = [NotebookJob(name=p.stem, source=p, output=tmp / p.name, parameters={},
                                 cwd=p.resolve().parent,
                                 post=lambda job, dest=(p if into is None else into / p.name):
                                 publish.finish_committed(job.output, dest))
                     for p in paths]
        by_name = {r.name: r for r in results}
        ordered = jobs_list[::-1]  # the later notebooks are the heavier ones: start them first
        execute_notebooks(ordered, jobs, progress=prog, fail_fast=False, results=[by_name[j.name] for j in ordered])
    finally:
        if prog is not None:
            prog.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def _output_key(out) -> list[tuple[str, str]]:
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


def main(argv: list[str] | None = None) -> int:
    """``python -m trialkit.report.runner [NOTEBOOK ...] [--jobs N] [--check]``: refresh committed notebooks.

    ``--check`` re-executes into a temporary folder and lists the cells whose committed outputs
    are stale (exit 1), leaving the notebooks untouched.
    """
    import argparse

    ap = argparse.ArgumentParser(prog="python -m trialkit.report.runner",
                                 description="Re-execute notebooks in place with their default parameters.")
    ap.add_argument("notebooks", nargs="*", help="notebooks (default: notebooks/NN_*.ipynb)")
    ap.add_argument("--jobs", type=int, help="notebooks at once (default: number of cores)")
    ap.add_argument("--check", action="store_true",
                    help="do not rewrite: list the cells whose committed outputs differ from a re-execution")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or None
    check_dir = Path(tempfile.mkdtemp(prefix="tk-check-")) if args.check else None
    try:
        results = refresh_notebooks(paths, jobs=args.jobs, into=check_dir)
        failed = [r for r in results if r.status == "failed"]
        for r in failed:
            print(r.describe(), file=sys.stderr)
        if check_dir is not None:
            stale = [line for p in (paths or discover_notebooks(project_root() / "notebooks"))
                     if not any(r.name == p.stem for r in failed)
                     for line in notebook_differences(p, check_dir / p.name)]
            for line in stale:
                print(line, file=sys.stderr)
            if stale:
                print("refresh with `make notebooks` (python -m trialkit.report.runner) and commit", file=sys.stderr)
                return 1
    except TrialkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if check_dir is not None:
            shutil.rmtree(check_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
