"""One JSON encoding for choicelab objects: :func:`to_jsonable`.

Witnesses, verdicts and everything else the axiom checks hand to ``json.dumps`` go through
this function, so numpy values, non-finite numbers and dataclasses are converted one way only.
"""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import PurePath

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(value):
    """``value`` with every part converted to plain JSON types (dict, list, str, int, float, bool, None).

    * dicts (keys become ``str``), lists, tuples and sets recursively; sets are sorted when possible;
    * numpy arrays as nested lists, numpy scalars as Python scalars;
    * non-finite floats (NaN, +-inf) as ``None`` (JSON has no such numbers);
    * objects with a ``to_dict()`` method through that method (e.g. ``Instance``), other
      dataclass instances field by field;
    * paths as strings.

    Anything else is returned unchanged (``json.dumps`` then reports it).

    Examples
    --------
    >>> to_jsonable({"a": np.array([1.0, np.nan]), 2: (np.int64(3), np.bool_(True))})
    {'a': [1.0, None], '2': [3, True]}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, PurePath):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
