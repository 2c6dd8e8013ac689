"""Exceptions trialkit raises for bad input. The CLI turns them into messages and exit codes."""
from __future__ import annotations

from collections.abc import Sequence


class TrialkitError(Exception):
    """Base class: an input problem the user can fix (never a bug in trialkit)."""


class StudyFileError(TrialkitError):
    """The study file is unreadable or inconsistent."""


class ScenarioError(TrialkitError):
    """A simulation scenario file is unreadable or inconsistent."""


class ValidationError(TrialkitError):
    """A dataset failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[object], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        n = len(problems)
        head = f"{source}: " if source else ""
        super().__init__(f"{head}{n} problem{'s' if n != 1 else ''} found:\n" + "\n".join(str(p) for p in problems))
