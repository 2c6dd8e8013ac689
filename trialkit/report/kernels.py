"""Kernels and execution: the kernel environment and manager, the pool of parallel kernels, papermill.

Every notebook runs with papermill in this interpreter's ipykernel, from threads of one process;
each kernel gets its own connection file on IPC sockets, so parallel start-ups cannot race for TCP
ports, and the same environment (``PYTHONHASHSEED=0``, one BLAS thread, UTC), so outputs do not
depend on ``--jobs`` or on the order in which notebooks finish.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from trialkit.report.jobs import NotebookJob, NotebookResult
from trialkit.report.notebooks import notebook_kernelspec, source_cell_number, top_level_imports
from trialkit.report.progress import Progress, set_status

__all__ = ["execute_notebooks", "kernel_env", "NotebookPool"]
KERNEL_NAME = "python3"
START_TIMEOUT = 300  # seconds for a kernel to come up (generous: several start at once on few cores)


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


def _kernel_manager_class(sock_dir: Path, extra_env: dict | None = None) -> type:
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
        started: list  # the managers this class started (set below, shared by its instances)

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


def kill_kernels(km_class: type) -> int:
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


def fast_imports() -> None:
    """Import jsonschema (via nbformat) without its optional ``rfc3987_syntax`` checker.

    That package builds a lark grammar at import time (~0.8 s, a third of the runner's start-up)
    to validate the ``iri`` string formats, which the notebook schema never uses. Only the first
    import is affected; ``rfc3987_syntax`` stays importable afterwards.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # None is how Python blocks an import: jsonschema then skips "iri"
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]


def _execute_one(job: NotebookJob, result: NotebookResult, progress: Progress | None,
                 km_class: type, cell_timeout: int | None, km: Any = None) -> NotebookResult:
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
        return source_cell_number(src_nb, index) if injected else (index + 1 if index is not None else None)

    set_status(progress, job.name, result, "running")
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
    set_status(progress, job.name, result, status)
    return result


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
                 results: list[NotebookResult] | None = None, env: dict | None = None) -> None:
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
        fast_imports()
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
                    set_status(self.progress, job.name, res, "cancelled")
                    continue
                if self.warm and not self.go.is_set():
                    set_status(self.progress, job.name, res, "starting")
                    km = self.km_class(kernel_name=KERNEL_NAME)
                    imports = ["import matplotlib.pyplot", "import seaborn"]  # what notebook_setup() imports
                    lines = [f"--IPKernelApp.exec_lines={s}" for s in imports + top_level_imports(job.source)]
                    try:
                        run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:", *lines],
                                                  cwd=str(job.cwd))
                    except Exception as exc:  # the kernel cannot be launched: this notebook fails
                        km = None
                        res.stage, res.error = "kernel start-up", f"{type(exc).__name__}: {exc}"
                        set_status(self.progress, job.name, res, "failed")
                        if self.fail_fast:
                            self.stop.set()
                        continue
                self.go.wait()
                if self.aborted or (self.stop.is_set() and self.fail_fast):
                    set_status(self.progress, job.name, res, "cancelled")
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
