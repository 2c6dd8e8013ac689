"""A notebook to execute, its result, and how a run fails or is interrupted.

:class:`NotebookJob` and :class:`NotebookResult` are what :mod:`~trialkit.report.kernels` executes
and :mod:`~trialkit.report.progress` displays; :class:`NotebookFailed` and :class:`RunInterrupted`
are what :func:`~trialkit.report.runner.run_report` raises; :class:`interruptible` and
:class:`signals_blocked` turn signals into a clean stop.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["NotebookJob", "NotebookResult", "NotebookFailed", "RunInterrupted"]


class RunInterrupted(BaseException):
    """The run received SIGINT or SIGTERM; kernels and the build were cleaned up.

    A :class:`BaseException` (like KeyboardInterrupt), so no ``except Exception`` swallows it.
    ``exit_code`` is 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.name}")


class interruptible:
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

    def __init__(self, failures: list["NotebookResult"], kept: Path | None = None) -> None:
        self.failures = failures
        self.kept = kept
        lines = [f.describe() for f in failures]
        if kept is not None:
            lines.append(f"the failed build is kept in {kept} (the previous report is untouched)")
        super().__init__("\n".join(lines))


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


class signals_blocked:
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
