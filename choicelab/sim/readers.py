"""Readers: the registry of file formats that bring your own data in.

A reader is one decorated function ``fn(path, m=None)`` that returns what it ``produces``:
``"alternatives"`` (an :class:`~choicelab.sim.Alternatives`), ``"comparisons"`` (a
:class:`~choicelab.sim.Comparisons`; ``m`` bounds the indices) or ``"rankings"`` (a
:class:`~choicelab.sim.Rankings`). It claims file suffixes; a scenario picks the reader by the
file's suffix, or by name (``reader = "..."`` beside the path)::

    from choicelab.sim import readers

    @readers.register("tsv_comparisons", produces="comparisons", suffixes=(".tsv",))
    def read_tsv(path, m=None):
        ...

Installed packages add readers through the entry-point group ``choicelab.readers``. Errors name
the file, the line and the field (:class:`~choicelab.sim.io.DataFileError`).

Examples
--------
>>> sorted(r.name for r in list_readers() if r.produces == "rankings")
['preflib']
>>> reader_for("votes.soc", "rankings").name
'preflib'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Reader", "register", "unregister", "get_reader", "list_readers", "reader_for", "read", "PRODUCES"]

PRODUCES = ("alternatives", "comparisons", "rankings")


@dataclass(frozen=True)
class Reader:
    """A registry entry."""

    name: str
    fn: Callable
    produces: str
    suffixes: tuple
    description: str


_READERS: dict[str, Reader] = {}


def register(name: str, *, produces: str, suffixes=(), description: str | None = None, replace: bool = False):
    """Decorator adding a reader ``fn(path, m=None)`` of ``produces`` for the given file ``suffixes``."""
    if produces not in PRODUCES:
        raise ValueError(f"register({name!r}): produces must be one of {PRODUCES}, got {produces!r}")
    suffixes = tuple(s.lower() if s.startswith(".") else "." + s.lower() for s in suffixes)

    def decorator(fn):
        if name in _READERS and not replace:
            raise ValueError(f"register: a reader called {name!r} is already registered")
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _READERS[name] = Reader(name=name, fn=fn, produces=produces, suffixes=suffixes, description=doc)
        return fn

    return decorator


def unregister(name: str) -> None:
    _READERS.pop(name, None)


def _plugins() -> None:
    from choicelab.plugins import load_entry_points

    load_entry_points("choicelab.readers")


def list_readers() -> list[Reader]:
    _plugins()
    return list(_READERS.values())


def get_reader(name: str) -> Reader:
    _plugins()
    try:
        return _READERS[name]
    except KeyError:
        raise ValueError(f"unknown reader {name!r}; known: {', '.join(_READERS)}") from None


def reader_for(path, produces: str, name: str | None = None) -> Reader:
    """The reader named ``name``, or the last registered reader of ``produces`` claiming the suffix."""
    if name is not None:
        reader = get_reader(name)
        if reader.produces != produces:
            raise ValueError(f"reader {name!r} reads {reader.produces}, not {produces}")
        return reader
    suffix = Path(str(path)).suffix.lower()
    matches = [r for r in list_readers() if r.produces == produces and suffix in r.suffixes]
    if not matches:
        known = sorted({s for r in list_readers() if r.produces == produces for s in r.suffixes})
        raise ValueError(
            f"no reader of {produces} for {suffix or 'files without a suffix'!r} files "
            f"(readers know {', '.join(known)}; a plugin can add one)"
        )
    return matches[-1]  # a plugin registered later overrides a built-in for its suffix


def read(path, produces: str, m: int | None = None, reader: str | None = None):
    """Read ``path`` with its reader; checks that the reader returned what it promised."""
    from choicelab.sim.alternatives import Alternatives
    from choicelab.sim.data import Comparisons, Rankings

    entry = reader_for(path, produces, reader)
    out = entry.fn(path, m) if produces != "alternatives" else entry.fn(path)
    expected = {"alternatives": Alternatives, "comparisons": Comparisons, "rankings": Rankings}[produces]
    if not isinstance(out, expected):
        raise TypeError(f"reader {entry.name!r} returned {type(out).__name__}, expected {expected.__name__}")
    return out


@register("alternatives", produces="alternatives", suffixes=(".csv", ".npy", ".npz"))
def _alternatives(path):
    """Embeddings: .csv (header; optional label and clone_of columns), .npy (m x d) or .npz."""
    from choicelab.sim.io import read_alternatives

    return read_alternatives(path)


@register("comparisons", produces="comparisons", suffixes=(".csv", ".jsonl", ".npz"))
def _comparisons(path, m=None):
    """Pairwise comparisons: .csv (a,b,winner[,annotator]), .jsonl (one object per line) or .npz."""
    from choicelab.sim.io import read_comparisons

    return read_comparisons(path, m)


@register("preflib", produces="rankings", suffixes=(".soc", ".soi", ".toc", ".toi"))
def _preflib(path, m=None):
    """PrefLib 2 orders (strict or with ties, complete or incomplete), alternatives numbered from 1 in the file."""
    from choicelab.sim.io import read_preflib

    rk = read_preflib(path)
    if m is not None and rk.m != m:
        raise ValueError(f"{path}: ranks {rk.m} alternatives, but the world has m = {m}")
    return rk
