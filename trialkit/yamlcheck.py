"""One small checker for the kit's YAML files (study file, scenarios, run parameters): one error format.

Every problem in any of the three files is reported as one line::

    <file>: <key.path>: expected <what>, got <value>

``<key.path>`` joins mapping keys with dots and list positions with ``[i]`` (``arms[1].factors.msc``);
``<value>`` is the offending value as Python prints it, ``nothing`` for a missing required key, and
``unknown key 'horizon' (did you mean 'horizons'?)`` for a key the file may not hold. The three
loaders (:func:`trialkit.study.load_study`, :func:`trialkit.simulate.scenario.load_scenario`,
:func:`trialkit.report.params.load_params`) raise their own :class:`~trialkit.errors.TrialkitError`
subclass through one :class:`Checker`, so the CLI prints the line and exits with status 2.

Hand-written rather than pydantic or pandera: the three files are plain YAML mappings whose rules are
mostly cross-key (a factor every arm must set, a block size that is a multiple of the allocation
ratio), pandera validates DataFrames, and pydantic's messages would have to be re-worded into this
format key by key anyway; the checker is a handful of typed getters.

Examples
--------
>>> from trialkit.errors import StudyFileError
>>> c = Checker("study.yaml", StudyFileError)
>>> c.known_keys({"arms": [], "horizon": {}}, ("arms", "control_arm", "horizons"))
Traceback (most recent call last):
...
trialkit.errors.StudyFileError: study.yaml: horizon: expected one of the keys arms, control_arm, horizons, got unknown key 'horizon' (did you mean 'horizons'?)
>>> c.number({"alpha": "x"}, "alpha", lo=0)
Traceback (most recent call last):
...
trialkit.errors.StudyFileError: study.yaml: alpha: expected a number >= 0, got 'x'
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from trialkit.errors import TrialkitError

__all__ = ["Checker", "MISSING", "describe", "join", "suggest"]


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


#: Stands for the value of a key that is not there (printed as ``got nothing``).
MISSING: Any = _Missing()
_MAX_SHOWN = 80


def describe(value: Any) -> str:
    """The ``got`` part of a message: the value as Python prints it, on one line, at most 80 characters.

    Examples
    --------
    >>> describe("ten years"), describe(MISSING), describe([1, 2])
    ("'ten years'", 'nothing', '[1, 2]')
    >>> describe("x" * 200)[-5:]
    "x...'"
    """
    text = repr(value).replace("\n", " ")
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN - 4] + "..." + text[-1]
    return text


def join(where: str, key: Any) -> str:
    """The key path of ``key`` inside ``where`` (``""`` is the top level; an ``int`` is a list position;
    a ``where`` ending in ``.`` is a prefix, as the scenario reader writes them).

    Examples
    --------
    >>> join("", "arms"), join("arms", 0), join("arms[0]", "id"), join("allocation.", "total")
    ('arms', 'arms[0]', 'arms[0].id', 'allocation.total')
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where and not where.endswith(".") else f"{where}{key}"


def suggest(word: Any, options: Iterable[Any]) -> str | None:
    """The option closest to ``word`` (a likely typo), or ``None`` when none is close.

    Examples
    --------
    >>> suggest("horizon", ["arms", "horizons"]), suggest("zzz", ["arms"])
    ('horizons', None)
    """
    names = [str(o) for o in options]
    lowered = {n.lower(): n for n in names}
    match = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


class Checker:
    """Typed getters over a parsed YAML mapping that raise ``error("<file>: <key.path>: expected …, got …")``.

    Parameters
    ----------
    source : str
        The file named at the start of every message.
    error : type
        The :class:`~trialkit.errors.TrialkitError` subclass raised (``StudyFileError``, ...).

    Examples
    --------
    >>> c = Checker("run.yaml")
    >>> c.integer({"seed": 3}, "seed", lo=0), c.choice({"code": "fold"}, "code", ("show", "fold"))
    (3, 'fold')
    >>> c.choice({"code": "folded"}, "code", ("show", "fold", "hide"))
    Traceback (most recent call last):
    ...
    trialkit.errors.TrialkitError: run.yaml: code: expected one of show, fold, hide, got 'folded' (did you mean 'fold'?)
    >>> c.mapping({}, "horizons", what="a mapping of horizon: days")
    Traceback (most recent call last):
    ...
    trialkit.errors.TrialkitError: run.yaml: horizons: expected a mapping of horizon: days, got nothing
    """

    def __init__(self, source: str, error: type[TrialkitError] = TrialkitError) -> None:
        self.source = source
        self.error = error

    def fail(self, where: str, expected: str, got: Any = MISSING, *, shown: str | None = None) -> TrialkitError:
        """The error (to ``raise``) for ``where``; ``shown`` replaces the printed value when given."""
        text = describe(got) if shown is None else shown
        return self.error(f"{self.source}: {where or '<top level>'}: expected {expected}, got {text}")

    # -- keys ------------------------------------------------------------------------------------
    def known_keys(self, d: dict, allowed: Iterable[str], where: str = "", note: str = "") -> None:
        """Refuse a key of ``d`` not in ``allowed``, suggesting the closest allowed key (and ``note``)."""
        allowed = list(allowed)
        for key in d:
            if key not in allowed:
                hint = suggest(key, allowed)
                extra = "; ".join(([f"did you mean {hint!r}?"] if hint else []) + ([note] if note else []))
                raise self.fail(join(where, key), f"one of the keys {', '.join(allowed)}",
                                shown=f"unknown key {describe(key)}" + (f" ({extra})" if extra else ""))

    def require(self, d: dict, key: str, where: str = "", what: str = "a value") -> Any:
        """``d[key]``; a missing key (or ``null``) is an error ``expected <what>, got nothing``."""
        if key not in d or d[key] is None:
            raise self.fail(join(where, key), what)
        return d[key]

    # -- typed values ----------------------------------------------------------------------------
    def mapping(self, d: dict, key: str, where: str = "", *, required: bool = True,
                what: str = "a mapping") -> dict:
        """``d[key]`` as a mapping (``{}`` when optional and absent)."""
        if key not in d or d[key] is None:
            if required:
                raise self.fail(join(where, key), what)
            return {}
        v = d[key]
        if not isinstance(v, dict):
            raise self.fail(join(where, key), what, v)
        return v

    def number(self, d: dict, key: str, where: str = "", *, default: Any = MISSING, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> Any:
        """``d[key]`` as a finite number within the bounds (``default`` when absent, else required)."""
        if key not in d or d[key] is None:
            if default is MISSING:
                raise self.fail(join(where, key), _number_text(lo, hi, lo_open, hi_open, integer))
            return default
        return self.value(d[key], join(where, key), lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, integer=integer)

    def integer(self, d: dict, key: str, where: str = "", *, default: Any = MISSING,
                lo: float | None = None, hi: float | None = None) -> Any:
        """``d[key]`` as a whole number within the bounds."""
        return self.number(d, key, where, default=default, lo=lo, hi=hi, integer=True)

    def value(self, v: Any, where: str, *, lo: float | None = None, hi: float | None = None,
              lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> Any:
        """``v`` (found at ``where``) as a finite number within the bounds: ``int`` if ``integer``.

        Examples
        --------
        >>> Checker("run.yaml").value(1.5, "alpha", lo=0, hi=1, lo_open=True, hi_open=True)
        Traceback (most recent call last):
        ...
        trialkit.errors.TrialkitError: run.yaml: alpha: expected a number strictly between 0 and 1, got 1.5
        """
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        ok = ok and (not integer or isinstance(v, int) or float(v).is_integer())
        ok = ok and (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or (v < hi if hi_open else v <= hi))
        if not ok:
            raise self.fail(where, _number_text(lo, hi, lo_open, hi_open, integer), v)
        return int(v) if integer else float(v)

    def boolean(self, d: dict, key: str, where: str = "", *, default: Any = MISSING) -> Any:
        """``d[key]`` as ``true`` or ``false``."""
        if key not in d and default is not MISSING:
            return default
        v = d.get(key, MISSING)
        if not isinstance(v, bool):
            raise self.fail(join(where, key), "true or false", v)
        return v

    def text(self, d: dict, key: str, where: str = "", *, default: Any = MISSING, what: str = "a non-empty text") -> Any:
        """``d[key]`` as a non-empty string."""
        if (key not in d or d[key] is None) and default is not MISSING:
            return default
        v = d.get(key, MISSING)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(join(where, key), what, v)
        return v

    def choice(self, d: dict, key: str, options: Iterable[Any], where: str = "", *, default: Any = MISSING) -> Any:
        """``d[key]``, which must be one of ``options`` (a near miss is suggested)."""
        options = list(options)
        if key not in d and default is not MISSING:
            return default
        v = d.get(key, MISSING)
        if v is MISSING or isinstance(v, bool) or v not in options:
            hint = suggest(v, options) if isinstance(v, str) else None
            raise self.fail(join(where, key), f"one of {', '.join(str(o) for o in options)}",
                            shown=describe(v) + (f" (did you mean {hint!r}?)" if hint else ""))
        return v

    def text_list(self, d: dict, key: str, where: str = "", *, what: str = "a list of names") -> tuple[str, ...]:
        """``d[key]`` (absent or null: empty) as a list of strings."""
        v = d.get(key)
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(join(where, key), what, v)
        return tuple(v)

    def int_list(self, v: Any, where: str, what: str = "a list of whole study days") -> tuple[int, ...]:
        """``v`` as a list of whole numbers."""
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise self.fail(where, what, v)
        return tuple(v)


def _number_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, integer: bool) -> str:
    kind = "a whole number" if integer else "a number"
    if lo is not None and hi is not None and not lo_open and not hi_open:
        return f"{kind} between {lo:g} and {hi:g}"
    if lo is not None and hi is not None and lo_open and hi_open:
        return f"{kind} strictly between {lo:g} and {hi:g}"
    bounds = ([f"{'>' if lo_open else '>='} {lo:g}"] if lo is not None else []) + (
        [f"{'<' if hi_open else '<='} {hi:g}"] if hi is not None else [])
    return " and ".join([f"{kind} {bounds[0]}"] + bounds[1:]) if bounds else kind
