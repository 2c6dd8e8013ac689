"""The live progress display of a run: one line per notebook (status, current cell, seconds)."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from trialkit.report.jobs import NotebookResult

__all__ = ["Progress"]


class Progress:
    """Which notebooks are queued, running (with the current cell) and done, on stderr.

    On a terminal the block of lines is redrawn in place; otherwise one line per change.
    """

    def __init__(self, results: list[NotebookResult], stream: TextIO | None = None, live: bool | None = None) -> None:
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


def set_status(progress: Progress | None, name: str, result: NotebookResult, status: str) -> None:
    if progress is not None:
        progress.update(name, status)
    else:
        result.status = status
