"""Command line: ``trialkit validate | simulate | summary | run | archive | power | init``.

Bad input ends with a message on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import errno
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd

from trialkit.errors import TrialkitError, ValidationError

if TYPE_CHECKING:
    from trialkit.data.trial import Trial

EXIT_OK, EXIT_ERROR, EXIT_INPUT = 0, 1, 2


def _print_summary(trial: Trial, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    st = trial.study
    print(f"Study {st.id}: {st.title}", file=out)
    print(f"Source: {trial.source}", file=out)
    print(f"Arms: {', '.join(f'{a.id} ({a.label})' for a in st.arms)}; control: {st.control_arm}", file=out)
    print(f"Factors: {', '.join(f'{f.name} ({f.label})' for f in st.factors.values()) or 'none'}", file=out)
    print(f"Visits: {', '.join(f'{v.id}@{v.day}' for v in st.visits)}; horizons (days): "
          f"{', '.join(f'{k} {v}' for k, v in st.horizons.items())}", file=out)
    present = ", ".join(f"{k} ({len(v)} rows)" for k, v in trial.tables().items())
    print(f"Tables: {present}", file=out)
    with pd.option_context("display.width", 120, "display.max_columns", 20, "display.precision", 1):
        print(trial.summary().to_string(), file=out)
    for w in trial.warnings:
        print(f"note: {w}", file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    from trialkit.data.load import validate

    report = validate(args.path, args.study, limit=None if args.all else 20)
    if not report.ok:
        print(report.text(), file=sys.stderr)
        return EXIT_INPUT
    print(f"{args.path}: valid")
    assert report.trial is not None  # a valid report holds its trial
    _print_summary(report.trial)
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from trialkit.simulate import write_simulation

    write_simulation(args.out, scenario=args.scenario, study=args.study, seed=args.seed,
                     n_subjects=args.n_subjects, fmt=args.format)
    print(f"wrote simulated dataset to {args.out}")
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    if args.path:
        from trialkit.data.load import load

        trial = load(args.path, args.study)
    else:
        from trialkit.simulate import simulate

        trial = simulate(scenario=args.scenario, study=args.study, seed=args.seed)
    _print_summary(trial)
    return EXIT_OK


def _disk_full(text: str) -> bool:
    return f"[Errno {errno.ENOSPC}]" in text or f"[Errno {errno.EDQUOT}]" in text


def cmd_init(args: argparse.Namespace) -> int:
    from trialkit.project import init_project

    written = init_project(args.dir)
    print(f"laid out an analysis project in {args.dir} ({len(written)} files); in it, run the report with "
          "`trialkit run params/default.yaml` (see its README.md)")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from trialkit.report.jobs import NotebookFailed, RunInterrupted
    from trialkit.report.runner import run_report

    if args.params_file is not None and args.params is not None and args.params_file != args.params:
        print("error: give the run parameters once (PARAMS or --params)", file=sys.stderr)
        return EXIT_INPUT
    params = args.params_file if args.params_file is not None else args.params
    try:
        result = run_report(params, out=args.out, jobs=args.jobs, only=args.only,
                            allow_listings=True if args.allow_listings else None, code=args.code, force=args.force)
    except RunInterrupted as exc:
        print(f"interrupted by {exc.name}: notebooks stopped, build and temporary files removed; "
              "the previous report is untouched", file=sys.stderr)
        return exc.exit_code
    except NotebookFailed as exc:
        if any(_disk_full(f.error or "") for f in exc.failures):
            print("error: no space left on device while the notebooks wrote their outputs; free some space "
                  "and run again (the previous report is untouched)", file=sys.stderr)
            return EXIT_INPUT
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (TrialkitError, FileNotFoundError, IsADirectoryError, PermissionError, KeyboardInterrupt):
        raise
    except (OSError, shutil.Error) as exc:
        if isinstance(exc, shutil.Error) or exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return _os_error(exc)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # an environment problem (e.g. a kernel that cannot start): no traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"report written to {result.target}")
    if args.archive:
        return _archive(result.target)
    return EXIT_OK


def _archive(report: str | Path, out: str | Path | None = None, pdf: bool = True) -> int:
    from trialkit.report.archive import archive_report

    def note(msg: str) -> None:
        print(f"archive: {msg}", file=sys.stderr)

    dest = archive_report(report, out=out, pdf=pdf, progress=note)
    print(f"supplementary material written to {dest}")
    return EXIT_OK


def cmd_archive(args: argparse.Namespace) -> int:
    return _archive(args.report, out=args.out, pdf=not args.no_pdf)


def _os_error(exc: OSError) -> int:
    """One line for a file-system failure (disk full, no permission), exit 2 — never a dump of
    ``shutil.Error``'s list of (source, destination, reason) tuples."""
    if isinstance(exc, shutil.Error):
        first = exc.args[0][0] if exc.args and isinstance(exc.args[0], list) and exc.args[0] else None
        n = len(exc.args[0]) if first is not None else 0
        reason = str(first[2]) if first is not None and len(first) > 2 else str(exc)
        where = first[1] if first is not None and len(first) > 1 else ""
        if _disk_full(reason):
            print(f"error: no space left on device while writing {where} ({n} file(s) not copied); free some "
                  "space and run again", file=sys.stderr)
        else:
            print(f"error: could not copy {n} file(s), first {where}: {reason}", file=sys.stderr)
        return EXIT_INPUT
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {exc.filename}" if exc.filename else ""
        print(f"error: no space left on device{where}; free some space and run again", file=sys.stderr)
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        print(f"error: {what}: {exc.filename or exc}", file=sys.stderr)
    else:
        print(f"error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
    return EXIT_INPUT


def _int_at_least(lo: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``lo`` (argparse then exits 2 with the usage line, no traceback)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1, "at least 1")
_nonnegative_int = _int_at_least(0, ">= 0")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trialkit", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    from trialkit.design.cli import add_power_parser

    add_power_parser(sub)

    v = sub.add_parser("validate", help="validate a dataset; exit 0 if valid, 2 with every problem listed")
    v.add_argument("path", help="dataset directory (CSV/Parquet) or Excel workbook")
    v.add_argument("--study", help="study file (default: the dataset's study.yaml, else params/study.yaml)")
    v.add_argument("--all", action="store_true", help="list every offending row (default: 20 per rule)")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("simulate", help="write a simulated dataset (same seed => identical files)")
    s.add_argument("--out", required=True, help="output directory (replaced atomically)")
    s.add_argument("--seed", type=_nonnegative_int, help="random seed (default: the scenario's)")
    s.add_argument("--n-subjects", type=_positive_int, help="total subjects (default: the scenario's arm sizes)")
    s.add_argument("--scenario", help="scenario YAML (default: params/scenarios/default.yaml)")
    s.add_argument("--study", help="study file (default: the scenario's, else params/study.yaml)")
    s.add_argument("--format", choices=["csv", "parquet", "xlsx"], default="csv")
    s.set_defaults(func=cmd_simulate)

    m = sub.add_parser("summary", help="print a dataset's summary (default: the simulated default trial)")
    m.add_argument("path", nargs="?", help="dataset (default: simulate the default scenario)")
    m.add_argument("--study")
    m.add_argument("--scenario")
    m.add_argument("--seed", type=_nonnegative_int)
    m.set_defaults(func=cmd_summary)

    r = sub.add_parser("run", help="execute the notebooks with papermill and publish the report (HTML, tables, "
                                   "figures, index.html, manifest.json)")
    r.add_argument("params_file", nargs="?", metavar="PARAMS",
                   help="run parameters YAML (default: params/default.yaml); the same as --params")
    r.add_argument("--params", default=None,
                   help="run parameters YAML (default: params/default.yaml)")
    r.add_argument("--out", help="report folder (default: <outputs>/<name> of the parameters, e.g. outputs/default)")
    r.add_argument("--jobs", type=_positive_int, help="notebooks executed at once (default: number of cores)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 02 or safety)")
    r.add_argument("--allow-listings", action="store_true",
                   help="internal report: subject-level listings allowed, identifier check off")
    r.add_argument("--code", choices=["show", "fold", "hide"], help="code cells in the HTML (default: the parameters')")
    r.add_argument("--force", action="store_true",
                   help="re-execute every notebook (default: reuse those whose inputs did not change since the "
                        "report already there)")
    r.add_argument("--archive", action="store_true",
                   help="then write the supplementary-material archive <report>.zip (see `trialkit archive`)")
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("archive", help="write <report>.zip: the report as supplementary material (README, LICENSE, "
                                       "CITATION.cff, RO-Crate, SHA256SUMS, PDFs)")
    a.add_argument("report", help="a report folder written by `trialkit run` (e.g. outputs/default)")
    a.add_argument("--out", help="the zip file (default: <report>.zip beside the report folder)")
    a.add_argument("--no-pdf", action="store_true", help="leave out the PDFs (no browser needed)")
    a.set_defaults(func=cmd_archive)

    i = sub.add_parser("init", help="lay out a new analysis project (params/, notebooks/, a study-file template, "
                                    "README.md and Makefile with the two commands) in DIR, new or empty")
    i.add_argument("dir", metavar="DIR", help="the project folder: created, or an existing empty folder")
    i.set_defaults(func=cmd_init)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INPUT
    except TrialkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_INPUT
    except PermissionError as exc:
        return _os_error(exc)
    except FileExistsError as exc:  # e.g. --out names a folder holding other files: never overwritten
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except shutil.Error as exc:
        return _os_error(exc)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_ERROR
    except OSError as exc:  # (after BrokenPipeError, one of its kinds)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            return _os_error(exc)
        raise
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
