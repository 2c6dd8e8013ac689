"""Run the analysis notebooks with papermill and publish one reproducible, provenance-stamped report.

``trialkit run --params params/default.yaml`` is :func:`run_report`:

1. read the run parameters (:func:`~trialkit.report.params.load_params`);
2. prepare the inputs once, in a build folder beside the target: simulate the dataset into
   ``data/`` (CSV) when the parameters say ``simulate``, and write the study file actually used
   (horizons applied) as ``study.yaml``;
3. execute every notebook of ``notebooks/`` (:mod:`~trialkit.report.notebooks`) with papermill, in
   parallel from this one process (:mod:`~trialkit.report.kernels`), injecting the parameters and
   showing progress (:mod:`~trialkit.report.progress`);
4. publish: strip run-dependent metadata from the executed notebooks and render HTML
   (:mod:`~trialkit.report.pages`), write ``index.html`` (:mod:`~trialkit.report.index`) and
   ``manifest.json`` (:mod:`~trialkit.report.manifest`), refuse if a subject identifier appears
   (:mod:`~trialkit.report.privacy`);
5. swap the build folder into place. A failure at any step leaves the previous report untouched.

``python -m trialkit.report.runner [NOTEBOOK ...]`` (``make notebooks``) re-executes committed
notebooks in place with their default parameters (see :func:`refresh_notebooks`).

Examples
--------
>>> p = load_params(None)        # params/default.yaml
>>> p.dataset, p.code in ("show", "fold", "hide")
('simulate', True)
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    project_root,
    remove_stale_builds,
    report_lock,
)
from trialkit.report.jobs import (
    NotebookFailed,
    NotebookJob,
    NotebookResult,
    RunInterrupted,
    interruptible,
    signals_blocked,
)
from trialkit.report.kernels import NotebookPool, default_jobs, execute_notebooks, fast_imports
from trialkit.report.notebooks import (
    check_notebook_keys,
    discover_notebooks,
    notebook_differences,
    notebook_parameters,
    notebook_run_parameters,
)
from trialkit.report.params import PARAM_KEYS, ParamsError, RunParams, check_horizons, check_params, load_params
from trialkit.report.progress import Progress, set_status
from trialkit.resources import bundled_project, checkout

__all__ = ["RunResult", "run_report", "refresh_notebooks"]


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
    """An input path: as given (relative to the working folder), else relative to the project in use
    (the checkout, a folder laid out by ``trialkit init``, or the kit's own: ``trialkit.resources``)."""
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


def _write_study(src: Path, horizons: dict | None, dest: Path, *, withhold_ids: bool = False) -> None:
    """Copy the study file, with ``horizons`` replaced when the run parameters override them.

    ``withhold_ids``: the study file's ``values`` entries (decisions on single lab values) name
    subjects; the published copy keeps each decision (parameter, day, action, reason) but writes
    ``subject_id: withheld`` (the report shows aggregates only; the decisions were applied when the
    dataset was validated, from the original file that the manifest hashes).
    """
    text = src.read_text(encoding="utf-8")
    raw: Any = yaml.safe_load(text) if (horizons or withhold_ids) else None
    notes = []
    if horizons:
        merged = dict(raw.get("horizons") or {})
        merged.update(horizons)
        if merged != raw.get("horizons"):
            raw["horizons"] = merged
            notes.append(f"horizons from the run parameters: {', '.join(f'{k} {v}' for k, v in horizons.items())}")
    if withhold_ids and isinstance(raw.get("values"), list) and raw["values"]:
        raw["values"] = [{**v, "subject_id": "withheld"} if isinstance(v, dict) else v for v in raw["values"]]
        notes.append("subject ids of the values entries withheld")
    if notes:
        text = f"# {src.name} with {'; '.join(notes)}\n" + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    dest.write_text(text, encoding="utf-8", newline="\n")


def _write_scenario(scenario: str | Path, params: RunParams, dest: Path) -> tuple[Path, list[Path]]:
    """Write the run's scenario, ``extends`` applied and ``n_subjects`` folded into its allocation, as
    one self-contained YAML file; return the study file the simulation uses and the scenario files read
    (the scenario's own, then every file it ``extends``: the manifest hashes them)."""
    from trialkit.simulate import load_scenario
    from trialkit.study import default_study_path

    sc = load_scenario(scenario).resolved(params.n_subjects)
    raw = sc.mapping()
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
        _write_study(study_src, params.horizons, build / "study.yaml", withhold_ids=not params.allow_listings)
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


def _return_memory() -> None:
    """Give the memory freed after validating back to the system (pyarrow's pool and glibc keep it
    otherwise): the driver of a 100,000-subject run held 1.5 GB of freed tables while its kernels worked."""
    import ctypes
    import gc

    gc.collect()
    if "pyarrow" in sys.modules:  # the tables' text columns live in pyarrow's own allocator (mimalloc)
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        pass


def _pseudonymized(trial):
    """``trial`` with every ``subject_id`` replaced by its pseudonym. The key is not kept:
    :func:`trialkit.data.ids.pseudonyms` of the subjects table (in its order) rebuilds it."""
    import dataclasses

    key = pseudonyms(trial.subjects["subject_id"].astype(str))
    renamed = {name: df.assign(subject_id=df["subject_id"].astype(str).map(key).astype(df["subject_id"].dtype))
               for name, df in trial.tables().items() if df is not None and "subject_id" in df.columns}
    return dataclasses.replace(trial, **renamed)


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
    trialkit.report.privacy.PrivacyError
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
    fast_imports()
    t_start = time.perf_counter()
    if not isinstance(params, RunParams):
        params = load_params(params)
    overrides = {k: v for k, v in (("allow_listings", allow_listings), ("code", code)) if v is not None}
    # checked again even without overrides: a RunParams built in Python never went through load_params
    params = check_params({**{k: getattr(params, k) for k in PARAM_KEYS}, **overrides}, params.source or "<params>")
    if jobs is not None and jobs < 1:
        raise ParamsError(f"--jobs must be at least 1, got {jobs}")
    target = _resolve(out) if out is not None else _resolve(Path(params.outputs) / params.name)
    notebooks = discover_notebooks(_resolve_input(params.notebooks), only)
    check_notebook_keys(params, _resolve_input(params.notebooks))
    declared = {nb.stem: notebook_parameters(nb) for nb in notebooks}

    dataset_path = None if params.simulate else _resolve_input(params.dataset)
    root = project_root()
    own = "trialkit's own files" if root == bundled_project() and checkout() is None else "project folder"
    protected = [(own, root), ("notebooks folder", _resolve_input(params.notebooks))]
    if params.source and Path(params.source).is_file():
        protected.append(("parameters file", Path(params.source)))
    if params.study:
        protected.append(("study file", _resolve_input(params.study)))
    datasets = [dataset_path] if dataset_path is not None else []
    check_target(target, inputs=protected, datasets=datasets)
    target.parent.mkdir(parents=True, exist_ok=True)
    with interruptible(), report_lock(target):
        check_target(target, inputs=protected, datasets=datasets)  # again, now that no other run can write it
        remove_stale_builds(target)
        return _run_locked(params, target, notebooks, declared, progress, jobs, keep_failed, started, t_start,
                           force)


def _run_locked(params: RunParams, target: Path, notebooks: list[Path], declared: dict[str, dict[str, Any]],
                progress: bool | Progress | None, jobs: int | None, keep_failed: bool, started: _dt.datetime,
                t_start: float, force: bool) -> RunResult:
    """The body of :func:`run_report`, holding the report's lock."""
    from trialkit.report.index import write_index
    from trialkit.report.manifest import write_manifest
    from trialkit.report.pages import finish_notebook
    from trialkit.report.privacy import check_privacy

    results = [NotebookResult(nb.stem) for nb in notebooks]
    prog = progress if isinstance(progress, Progress) else (Progress(results) if progress else None)
    if isinstance(progress, Progress):
        progress.results = {r.name: r for r in results}
    build = new_build_folder(target)
    ok = False
    pool = None
    try:
        dataset_param = "simulate" if params.simulate else _rel_or_abs(_resolve_input(params.dataset), target)
        jobs_list = []
        for nb in notebooks:
            injected = notebook_run_parameters(params, nb, dataset_param, declared[nb.stem])
            jobs_list.append(NotebookJob(
                name=nb.stem, source=nb, output=build / f"{nb.stem}.ipynb", parameters=injected, cwd=build,
                post=lambda job: finish_notebook(job.output, job.source, code=params.code)))
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
                set_status(prog, stem, by_name[stem], "reused")
        ordered = _longest_first([j for j in jobs_list if j.name not in reused], target)
        # kernels start (and import their notebook's modules) while the inputs are prepared
        # a dataset is validated once, here; the kernels read the validated tables (trialkit.data.handoff)
        handoff = None if params.simulate else {HANDOFF_ENV: str(build / KERNEL_INPUT)}
        pool = NotebookPool(ordered, n_jobs, progress=prog, cell_timeout=params.cell_timeout, warm=True,
                            results=[by_name[j.name] for j in ordered], env=handoff).start()
        try:
            info = info or _prepare_inputs(params, build, prog)
            _return_memory()  # the validated dataset is on disk for the kernels; the driver only waits now
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
        write_index(build, params=params, notebooks=[nb.stem for nb in notebooks],
                            study_title=info["study_title"], dataset_source=info["dataset_source"])
        finished = _dt.datetime.now(_dt.timezone.utc)
        manifest = write_manifest(
            build, name=target.name, params=params, inputs=info["inputs"], notebooks=notebooks, results=results,
            injected={j.name: j.parameters for j in jobs_list}, started=started, finished=finished,
            wall_seconds=time.perf_counter() - t_start, jobs=n_used, root=project_root(), t0=t_start)
        manifest = inputs.record_hashes(build, manifest, hashes or inputs.notebook_hashes(
            notebooks, injected_all, info["inputs"], build, code=params.code))
        if not params.allow_listings:
            if prog is not None:
                prog.note("checking every published file for subject identifiers")
            # a simulated run publishes its synthetic dataset in data/ on purpose
            check_privacy(build, info["subject_ids"], [nb.stem for nb in notebooks],
                                  skip=("data",) if params.simulate else ())
        (build / BUILD_MARKER).unlink()  # the signed manifest marks the folder as the kit's from now on
        with signals_blocked():  # the swap is two renames: not to be split by a signal
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
def _finish_into(dest: Path) -> Callable[[NotebookJob], None]:
    """The ``post`` step of a refresh job: write its executed notebook, finished, to ``dest``."""
    from trialkit.report.pages import finish_committed

    def post(job: NotebookJob) -> None:
        finish_committed(job.output, dest)

    return post


def refresh_notebooks(paths: Sequence[str | Path] | None = None, jobs: int | None = None,
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
    files = [Path(p) for p in paths] if paths else discover_notebooks(project_root() / "notebooks")
    folder = Path(into) if into is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for p in files:
            shutil.copyfile(p, folder / p.name)
    results = [NotebookResult(p.stem) for p in files]
    prog = Progress(results) if progress else None
    tmp = Path(tempfile.mkdtemp(prefix="tk-refresh-"))
    try:
        jobs_list = [NotebookJob(name=p.stem, source=p, output=tmp / p.name, parameters={},
                                 cwd=p.resolve().parent,
                                 post=_finish_into(p if folder is None else folder / p.name))
                     for p in files]
        by_name = {r.name: r for r in results}
        ordered = jobs_list[::-1]  # the later notebooks are the heavier ones: start them first
        execute_notebooks(ordered, jobs, progress=prog, fail_fast=False, results=[by_name[j.name] for j in ordered])
    finally:
        if prog is not None:
            prog.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


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
