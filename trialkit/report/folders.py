"""Where a report may be written: the kit replaces only folders it created.

``trialkit run`` builds a report in a hidden folder beside the target and swaps it into place at the
end, replacing what was there. That is safe only for a folder the kit made, so:

- a finished report carries ``manifest.json`` with ``"generator": "trialkit run"`` (:data:`SIGNATURE`);
  a build folder (``.<name>.build-*``, and ``<name>.failed`` kept after a failure) carries the marker
  file :data:`BUILD_MARKER`;
- :func:`check_target` refuses a target that exists and is not empty unless it is such a report,
  a target that is (or holds) the current folder, the home folder, the project folder (the checkout, or
  one laid out by ``trialkit init``), the dataset, the notebooks or any other input, a target inside
  the dataset folder, ``/`` and a target inside a system folder (``/etc``, ``/usr`` …) unless it is
  also inside the home, working, project or temporary folder;
- :func:`report_lock` holds a lock file ``.<name>.lock`` beside the target for the whole run: a
  second run writing the same report stops at once with a message (it does not wait);
- :func:`remove_stale_builds` (called under the lock) removes build folders left by a killed run.

Examples
--------
>>> import tempfile, pathlib
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> (base / "notes").mkdir()
>>> _ = (base / "notes" / "thesis.docx").write_text("years of work")
>>> check_target(base / "notes")
Traceback (most recent call last):
...
trialkit.report.folders.TargetError: refusing to replace .../notes: it is not a trialkit report (no manifest.json ...) and holds thesis.docx; choose another --out or empty it first
>>> check_target(base / "new_report") is None          # a folder that does not exist yet: fine
True
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from trialkit.errors import TrialkitError
from trialkit.resources import project_root  # the project in use (checkout, `trialkit init` folder or bundled)

__all__ = [
    "project_root",
    "TargetError",
    "SIGNATURE",
    "BUILD_MARKER",
    "SYSTEM_FOLDERS",
    "is_report_folder",
    "is_build_folder",
    "check_target",
    "report_lock",
    "new_build_folder",
    "remove_stale_builds",
]

#: ``manifest.json["generator"]`` of every report the kit writes.
SIGNATURE = "trialkit run"
#: The file that marks a build folder (or a kept failed build) as the kit's.
BUILD_MARKER = ".trialkit-build"
#: Folders (and everything inside them) a report is never written into, unless the target is
#: also inside the home, working, project or temporary folder.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc",
                  "/root", "/run", "/sbin", "/snap", "/srv", "/sys", "/usr", "/var", "/Applications",
                  "/Library", "/System", "/private", "C:/Windows", "C:/Program Files")


class TargetError(TrialkitError):
    """The report folder may not be written (it is not the kit's, or another run holds it)."""


def is_report_folder(path: str | Path) -> bool:
    """Does ``path`` hold a report the kit wrote (``manifest.json`` with the kit's signature)?

    Reports written before the signature existed are recognised by their manifest's keys.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> is_report_folder(d)
    False
    >>> _ = (d / "manifest.json").write_text(json.dumps({"generator": "trialkit run", "report": "demo"}))
    >>> is_report_folder(d)
    True
    >>> _ = (d / "manifest.json").write_text('{"name": "some other tool"}')
    >>> is_report_folder(d)
    False
    """
    try:
        m = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(m, dict):
        return False
    if m.get("generator") == SIGNATURE:
        return True
    legacy = {"report", "injected_parameters", "inputs", "packages", "outputs"}
    return legacy <= set(m) and "trialkit" in (m.get("packages") or {})


def is_build_folder(path: str | Path) -> bool:
    """Does ``path`` carry the kit's build marker (a build in progress, left over, or kept after a failure)?

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> build = new_build_folder(target)
    >>> build.name.startswith(".demo.build-"), is_build_folder(build), is_build_folder(target.parent)
    (True, True, False)
    """
    try:
        m = json.loads((Path(path) / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("generator") == SIGNATURE


def new_build_folder(target: str | Path) -> Path:
    """Create ``.<name>.build-XXXX`` beside ``target`` with the build marker in it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> build = new_build_folder(pathlib.Path(tempfile.mkdtemp()) / "demo")
    >>> [p.name for p in build.iterdir()]
    ['.trialkit-build']
    """
    target = Path(target)
    build = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    (build / BUILD_MARKER).write_text(json.dumps({"generator": SIGNATURE, "pid": os.getpid()}) + "\n",
                                      encoding="utf-8")
    return build


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _listing(folder: Path, n: int = 5) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_target(target: str | Path, *, inputs: Iterable[tuple[str, str | Path]] = (),
                 datasets: Iterable[str | Path] = (), cwd: str | Path | None = None,
                 home: str | Path | None = None) -> None:
    """Refuse (:class:`TargetError`) a report target the kit must not replace.

    Parameters
    ----------
    target : path
        The report folder (resolved).
    inputs : iterable of (what, path)
        Files and folders the run reads (project folder, notebooks, parameters, study file): the target
        may not be any of them nor hold any of them.
    datasets : iterable of path
        Dataset folders or files: the target may also not lie inside a dataset folder.
    cwd, home : path, optional
        The working and home folders (default: the process's).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> check_target(work, cwd=work)
    Traceback (most recent call last):
    ...
    trialkit.report.folders.TargetError: refusing to write a report into ...: it is the current folder; ...
    >>> check_target("/etc/default")
    Traceback (most recent call last):
    ...
    trialkit.report.folders.TargetError: refusing to write a report into /etc/default: it is inside the system folder /etc
    >>> check_target(work / "data", datasets=[work / "data"], cwd="/")
    Traceback (most recent call last):
    ...
    trialkit.report.folders.TargetError: refusing to write a report into .../data: it is the dataset; ...
    """
    t = Path(target).expanduser().resolve()
    cwd = Path(cwd if cwd is not None else os.getcwd()).resolve()
    home = Path(home if home is not None else Path.home()).expanduser().resolve()
    root = Path(t.anchor)
    why = None
    named = [("current folder", cwd), ("home folder", home)]
    named += [(what, Path(p).expanduser().resolve()) for what, p in inputs]
    named += [("dataset", Path(d).expanduser().resolve()) for d in datasets]
    if t == root:
        why = "it is the root of the file system"
    for what, p in named:
        if why is None and _inside(p, t) and p != root:
            why = f"it is the {what}" if p == t else f"it holds the {what} ({p})"
    for d in datasets:
        d = Path(d).expanduser().resolve()
        if why is None and d.is_dir() and t.is_relative_to(d):
            why = f"it is inside the dataset folder {d}"
    if why is None:
        system = next((Path(s) for s in SYSTEM_FOLDERS if _inside(t, Path(s))), None)
        if system is not None:
            systems = {Path(s) for s in SYSTEM_FOLDERS}
            candidates = (home, cwd, Path(tempfile.gettempdir()).resolve(), Path("/tmp"), Path("/var/tmp"),
                          *(p for what, p in named if what == "project folder"))
            areas = [a for a in candidates if a != root and (a == home or a not in systems)]
            user_area = any(_inside(t, a) for a in areas)
            if not user_area:
                why = f"it is inside the system folder {system}"
    if why is not None:
        hint = "" if why.startswith("it is inside the system") else "; choose a report folder of its own (--out)"
        raise TargetError(f"refusing to write a report into {t}: {why}{hint}")
    if t.exists() and not t.is_dir():
        raise TargetError(f"refusing to replace {t}: it is a file, not a report folder; choose another --out")
    if t.is_dir() and any(t.iterdir()) and not is_report_folder(t) and not is_build_folder(t):
        raise TargetError(f"refusing to replace {t}: it is not a trialkit report (no manifest.json with the "
                          f"kit's signature) and holds {_listing(t)}; choose another --out or empty it first")


@contextlib.contextmanager
def report_lock(target: str | Path) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``target`` for the duration of a run; refuse if another run holds it.

    The lock is an advisory ``flock`` (released by the system even if the process is killed); the
    file is removed when the run ends. A second run does not wait: it raises :class:`TargetError`
    naming the report and the process holding it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> with report_lock(target) as lock:
    ...     with report_lock(target):
    ...         pass
    Traceback (most recent call last):
    ...
    trialkit.report.folders.TargetError: another trialkit run (process ...) is writing the report .../demo; wait for it to finish or choose another --out
    >>> lock.exists()                  # removed at the end
    False
    """
    target = Path(target)
    lock = target.parent / f".{target.name}.lock"
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking
        yield lock
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise TargetError(f"another trialkit run (process {holder}) is writing the report {target}; "
                              "wait for it to finish or choose another --out") from None
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield lock
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def remove_stale_builds(target: str | Path) -> list[Path]:
    """Remove what killed runs left beside ``target``: build folders carrying the kit's marker and
    old reports set aside during a swap. Call it while holding :func:`report_lock`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> stale = new_build_folder(target)
    >>> foreign = target.parent / ".demo.build-mine"
    >>> foreign.mkdir()                       # no marker: not the kit's, left alone
    >>> [p.name for p in remove_stale_builds(target)] == [stale.name], foreign.exists()
    (True, True)
    """
    target = Path(target)
    removed = []
    left = sorted(target.parent.glob(f".{target.name}.build-*")) + sorted(target.parent.glob(f".{target.name}.old-*"))
    for p in left:
        if p.is_dir() and not p.is_symlink() and (is_build_folder(p) or is_report_folder(p)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
