"""Run parameters carry JSON types only: str, int, float, bool, null, lists and str-keyed mappings.

Whatever a parameters file holds reaches a kernel as Python source written by papermill's
translator. Its escaping is sound for JSON types but not for others (a ``!!set`` member is written
as ``str(value)`` unquoted: code would run in the kernel), and values such as dates, sets, bytes,
NaN or integers beyond 2**53 do not survive a round trip through ``manifest.json``. So:

- :func:`load_yaml_json` reads YAML refusing, before anything is constructed, every node whose tag
  is not a JSON type: explicit tags (``!!set``, ``!!binary``, ``!!python/...``, ``!custom``),
  implicit timestamps (``2024-01-31``) and merge keys; the message names the key's path;
- :func:`check_json_value` checks a value built in Python (or loaded) the same way, and also
  refuses NaN, infinities, integers beyond ±(2**53 − 1) and non-string keys.

Examples
--------
>>> load_yaml_json("alpha: 0.05\\nnotebook_parameters: {04_predictive: {n_splits: 5}}\\n")
{'alpha': 0.05, 'notebook_parameters': {'04_predictive': {'n_splits': 5}}}
>>> load_yaml_json("notebook_parameters:\\n  01_x: {label: !!set {a: null}}\\n")
Traceback (most recent call last):
...
trialkit.report.jsontypes.JsonTypeError: notebook_parameters.01_x.label: expected JSON types only (text, number, true/false, null, list, mapping), got a YAML set (tag !!set)
>>> check_json_value({"seed": 2**60})
Traceback (most recent call last):
...
trialkit.report.jsontypes.JsonTypeError: seed: expected a whole number within ±9007199254740991 (exact in JSON), got 1152921504606846976
"""
from __future__ import annotations

import math
from typing import Any

import yaml

from trialkit.errors import TrialkitError

__all__ = ["JsonTypeError", "load_yaml_json", "check_json_value", "MAX_SAFE_INT"]

#: The largest integer a JSON reader is guaranteed to hold exactly (IEEE double: 2**53 − 1).
MAX_SAFE_INT = 2**53 - 1
_JSON = "JSON types only (text, number, true/false, null, list, mapping)"
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_TAG_NAMES = {"set": "a YAML set", "binary": "binary data", "timestamp": "a date or time", "omap": "an ordered map",
              "pairs": "a list of pairs", "merge": "a merge key (<<)", "value": "a value key (=)"}


class JsonTypeError(TrialkitError):
    """A parameter value that is not a JSON type; the message names its key path."""


def _path(parts: list[str]) -> str:
    return ".".join(parts) or "<top level>"


def _fail(where: str, got: str, expected: str = _JSON) -> JsonTypeError:
    """``<key.path>: expected <what>, got <value>`` (the caller puts the file name in front)."""
    return JsonTypeError(f"{where}: expected {expected}, got {got}")


def _describe_tag(tag: str) -> str:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    kind = _TAG_NAMES.get(tag.rsplit(":", 1)[-1]) if tag.startswith("tag:yaml.org,2002:") else None
    if kind == "a date or time":
        return f"{kind} (quote it to pass it as text)"
    return f"{kind or 'a value'} (tag {short})"


def _check_nodes(node: yaml.Node, parts: list[str]) -> None:
    if node.tag not in _ALLOWED_TAGS:
        raise _fail(_path(parts), _describe_tag(node.tag))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag not in _ALLOWED_TAGS:
                raise _fail(_path(parts), f"a key with {_describe_tag(key.tag)}")
            name = key.value if isinstance(key, yaml.ScalarNode) else "<complex key>"
            _check_nodes(key, parts + [f"<key {name}>"])
            _check_nodes(value, parts + [str(name)])
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_nodes(item, parts + [f"[{i}]"])


def load_yaml_json(text: str) -> Any:
    """Parse YAML whose every value is a JSON type (see the module docstring); ``None`` for an empty text.

    Raises
    ------
    JsonTypeError
        A node with another tag, or a value :func:`check_json_value` refuses.
    yaml.YAMLError
        Not valid YAML.

    Examples
    --------
    >>> load_yaml_json("label: 'it''s \\"quoted\\"'\\nsizes: [60, 120]\\n")
    {'label': 'it\\'s "quoted"', 'sizes': [60, 120]}
    >>> load_yaml_json("start: 2024-01-31")
    Traceback (most recent call last):
    ...
    trialkit.report.jsontypes.JsonTypeError: start: expected JSON types only (...), got a date or time (quote it to pass it as text)
    >>> load_yaml_json("x: !!python/object/apply:os.system ['id']")
    Traceback (most recent call last):
    ...
    trialkit.report.jsontypes.JsonTypeError: x: expected JSON types only (...), got a value (tag !!python/object/apply:os.system)
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None
    _check_nodes(node, [])
    value = yaml.safe_load(text)
    check_json_value(value)
    return value


def check_json_value(value: Any, path: str = "") -> None:
    """Refuse (:class:`JsonTypeError`, naming the key path) anything but JSON types.

    Allowed: ``str``, ``bool``, ``None``, ``int`` within ±(2**53 − 1), finite ``float``, ``list``
    and ``dict`` with ``str`` keys of these.

    Examples
    --------
    >>> check_json_value({"a": [1, 2.5, "x", None, True, {"b": []}]}) is None
    True
    >>> check_json_value({"n": {"x": float("nan")}})
    Traceback (most recent call last):
    ...
    trialkit.report.jsontypes.JsonTypeError: n.x: expected a finite number, got nan
    >>> check_json_value({"ids": {"S1", "S2"}})
    Traceback (most recent call last):
    ...
    trialkit.report.jsontypes.JsonTypeError: ids: expected JSON types only (...), got a set
    """
    where = path or "<top level>"
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise _fail(where, str(value), f"a whole number within ±{MAX_SAFE_INT} (exact in JSON)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(where, str(value), "a finite number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_json_value(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _fail(where, f"key {k!r}", "text keys")
            check_json_value(v, f"{path}.{k}" if path else k)
        return
    kinds: dict[type, str] = {set: "a set", frozenset: "a set", tuple: "a tuple", bytes: "binary data"}
    kind = kinds.get(type(value))
    raise _fail(where, kind or type(value).__name__ + " " + repr(value)[:40])
