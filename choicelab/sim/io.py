"""Reading and writing simulator data: npz / CSV, and PrefLib .soc .soi .toc .toi (SPEC §4).

Every loader picks the format from the file suffix and names the file, the line number and
the offending text when it cannot parse something.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from choicelab.sim.alternatives import Alternatives
from choicelab.sim.data import Comparisons, Rankings

_COMPARISON_FIELDS = ("a", "b", "winner", "annotator")
_PREFLIB_SUFFIXES = {
    ".soc": "strict orders, complete lists",
    ".soi": "strict orders, incomplete lists",
    ".toc": "orders with ties, complete lists",
    ".toi": "orders with ties, incomplete lists",
}


def _suffix(path, allowed: tuple[str, ...], who: str) -> tuple[Path, str]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"{who}: unsupported file suffix {path.suffix!r} in {str(path)!r}; expected one of {allowed}")
    return path, suffix


def _csv_rows(path: Path):
    """Yield ``(line_number, fields)`` for the non-empty lines of a CSV file."""
    with open(path, newline="") as fh:
        for lineno, fields in enumerate(csv.reader(fh), start=1):
            if fields and any(f.strip() for f in fields):
                yield lineno, [f.strip() for f in fields]


def _parse_number(text: str, kind, path: Path, lineno: int, line: list[str]):
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{path}:{lineno}: cannot read {text!r} as {kind.__name__} in line {','.join(line)!r}") from None


def _npz_arrays(path: Path, keys: tuple[str, ...], who: str) -> dict:
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise ValueError(f"{who}: {path} lacks arrays {missing} (has {data.files})")
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------------------------------------
# comparisons


def save_comparisons(comps: Comparisons, path) -> None:
    """Write comparisons to ``.npz`` (arrays a, b, winner, annotator) or ``.csv``.

    The CSV has the header ``a,b,winner,annotator`` and one comparison per line (0-based
    indices, ``winner = -1`` for a tie, ``annotator = -1`` when unknown).
    """
    if not isinstance(comps, Comparisons):
        raise TypeError(f"comps must be a Comparisons, got {type(comps).__name__}")
    path, suffix = _suffix(path, (".npz", ".csv"), "save_comparisons")
    if suffix == ".npz":
        with open(path, "wb") as fh:
            np.savez(fh, **{k: getattr(comps, k) for k in _COMPARISON_FIELDS})
        return
    table = np.column_stack([getattr(comps, k) for k in _COMPARISON_FIELDS]).reshape(-1, 4)
    np.savetxt(path, table, fmt="%d", delimiter=",", header=",".join(_COMPARISON_FIELDS), comments="")


def load_comparisons(path) -> Comparisons:
    """Read comparisons written by :func:`save_comparisons` (suffix ``.npz`` or ``.csv``)."""
    path, suffix = _suffix(path, (".npz", ".csv"), "load_comparisons")
    if suffix == ".npz":
        arrays = _npz_arrays(path, _COMPARISON_FIELDS, "load_comparisons")
        return Comparisons(*(arrays[k] for k in _COMPARISON_FIELDS))
    rows = list(_csv_rows(path))
    if not rows or tuple(rows[0][1]) != _COMPARISON_FIELDS:
        got = ",".join(rows[0][1]) if rows else "<empty file>"
        raise ValueError(f"{path}:{rows[0][0] if rows else 1}: expected the header 'a,b,winner,annotator', got {got!r}")
    values = []
    for lineno, fields in rows[1:]:
        if len(fields) != 4:
            raise ValueError(f"{path}:{lineno}: expected 4 fields (a,b,winner,annotator), got {','.join(fields)!r}")
        values.append([_parse_number(f, int, path, lineno, fields) for f in fields])
    table = np.array(values, dtype=np.int64).reshape(-1, 4)
    try:
        return Comparisons(*table.T)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# alternatives


def save_alternatives(alts: Alternatives, path) -> None:
    """Write alternatives to ``.npz`` (arrays X, labels, clone_of) or ``.csv``.

    The CSV header is ``label:int`` or ``label:str`` (the label type, so that it round-trips),
    then ``clone_of`` and ``x0, ..., x{d-1}``; coordinates are written with ``repr`` precision
    (exact round trip). Labels must be integers or strings.
    """
    if not isinstance(alts, Alternatives):
        raise TypeError(f"alts must be an Alternatives, got {type(alts).__name__}")
    path, suffix = _suffix(path, (".npz", ".csv"), "save_alternatives")
    labels = alts.labels
    if np.issubdtype(labels.dtype, np.integer):
        label_kind = "int"
    elif labels.dtype.kind == "U":
        label_kind = "str"
    else:
        raise TypeError(f"save_alternatives: labels must be integers or strings, got dtype {labels.dtype}")
    if suffix == ".npz":
        with open(path, "wb") as fh:
            np.savez(fh, X=alts.X, labels=labels, clone_of=alts.clone_of)
        return
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"label:{label_kind}", "clone_of"] + [f"x{k}" for k in range(alts.d)])
        for label, clone, row in zip(labels.tolist(), alts.clone_of.tolist(), alts.X.tolist()):
            writer.writerow([label, clone] + [repr(v) for v in row])


def load_alternatives(path) -> Alternatives:
    """Read alternatives written by :func:`save_alternatives` (``.npz`` or ``.csv``)."""
    path, suffix = _suffix(path, (".npz", ".csv"), "load_alternatives")
    if suffix == ".npz":
        arrays = _npz_arrays(path, ("X", "labels", "clone_of"), "load_alternatives")
        return Alternatives(arrays["X"], labels=arrays["labels"], clone_of=arrays["clone_of"])
    rows = list(_csv_rows(path))
    if not rows:
        raise ValueError(f"{path}:1: empty file; expected a header 'label:int|label:str,clone_of,x0,...'")
    lineno, header = rows[0]
    if len(header) < 3 or header[0] not in ("label:int", "label:str") or header[1] != "clone_of" \
            or header[2:] != [f"x{k}" for k in range(len(header) - 2)]:
        raise ValueError(f"{path}:{lineno}: expected a header 'label:int|label:str,clone_of,x0,...', got {','.join(header)!r}")
    label_kind = int if header[0] == "label:int" else str
    d = len(header) - 2
    labels, clone_of, X = [], [], []
    for lineno, fields in rows[1:]:
        if len(fields) != d + 2:
            raise ValueError(f"{path}:{lineno}: expected {d + 2} fields, got {len(fields)} in {','.join(fields)!r}")
        labels.append(_parse_number(fields[0], label_kind, path, lineno, fields))
        clone_of.append(_parse_number(fields[1], int, path, lineno, fields))
        X.append([_parse_number(f, float, path, lineno, fields) for f in fields[2:]])
    try:
        return Alternatives(np.array(X, dtype=float).reshape(-1, d), labels=np.array(labels),
                            clone_of=np.array(clone_of, dtype=np.int64))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# matrices


def save_matrix(P, path) -> None:
    """Write a 2-D float matrix to ``.npz`` (array ``P``) or ``.csv`` (no header, ``%.17g``)."""
    P = np.asarray(P, dtype=float)
    if P.ndim != 2:
        raise ValueError(f"save_matrix: P must be 2-D, got shape {P.shape}")
    path, suffix = _suffix(path, (".npz", ".csv"), "save_matrix")
    if suffix == ".npz":
        with open(path, "wb") as fh:
            np.savez(fh, P=P)
        return
    np.savetxt(path, P, fmt="%.17g", delimiter=",")


def load_matrix(path) -> np.ndarray:
    """Read a matrix written by :func:`save_matrix` (``.npz`` or ``.csv``); no validation of P."""
    path, suffix = _suffix(path, (".npz", ".csv"), "load_matrix")
    if suffix == ".npz":
        return _npz_arrays(path, ("P",), "load_matrix")["P"]
    rows = []
    for lineno, fields in _csv_rows(path):
        if rows and len(fields) != len(rows[0]):
            raise ValueError(f"{path}:{lineno}: expected {len(rows[0])} fields, got {len(fields)} in {','.join(fields)!r}")
        rows.append([_parse_number(f, float, path, lineno, fields) for f in fields])
    if not rows:
        raise ValueError(f"{path}: empty matrix file")
    return np.array(rows, dtype=float)


# ---------------------------------------------------------------------------------------------
# PrefLib


_META = re.compile(r"^#\s*([^:]+?)\s*:\s?(.*)$")
_DATA = re.compile(r"^\s*(\d+)\s*:\s*(.*?)\s*$")
_NAME_KEY = re.compile(r"^ALTERNATIVE NAME (\d+)$")


def _parse_order(text: str, m: int, where: str) -> tuple:
    """Parse ``1,2,{3,4},5`` (1-based) into 0-based groups ``((0,), (1,), (2, 3), (4,))``."""
    groups, pos, n = [], 0, len(text)
    seen: set[int] = set()

    def item(tok: str) -> int:
        tok = tok.strip()
        if not tok.isdigit():
            raise ValueError(f"{where}: {tok!r} is not an alternative number")
        x = int(tok)
        if not 1 <= x <= m:
            raise ValueError(f"{where}: alternative {x} is outside 1..{m}")
        if x - 1 in seen:
            raise ValueError(f"{where}: alternative {x} appears twice")
        seen.add(x - 1)
        return x - 1

    if not text.strip():
        return ()
    while pos < n:
        if text[pos] == "{":
            end = text.find("}", pos)
            if end < 0:
                raise ValueError(f"{where}: unclosed '{{'")
            inner = text[pos + 1 : end]
            if not inner.strip():
                raise ValueError(f"{where}: empty tied group '{{}}'")
            groups.append(tuple(item(tok) for tok in inner.split(",")))
            pos = end + 1
        else:
            end = pos
            while end < n and text[end] not in ",{}":
                end += 1
            if end < n and text[end] in "{}":
                raise ValueError(f"{where}: unexpected {text[end]!r}")
            groups.append((item(text[pos:end]),))
            pos = end
        rest = text[pos:].lstrip()
        if not rest:
            break
        if rest[0] != ",":
            raise ValueError(f"{where}: expected ',' before {rest[:20]!r}")
        pos = n - len(rest) + 1
        if not text[pos:].strip():
            raise ValueError(f"{where}: trailing ','")
    return tuple(groups)


def read_preflib(path) -> Rankings:
    """Read a PrefLib 2 ordinal file (.soc .soi .toc .toi) into :class:`Rankings`.

    Metadata lines ``# KEY: value`` (``NUMBER ALTERNATIVES`` is required; ``ALTERNATIVE NAME i``
    gives the names; ``NUMBER VOTERS`` / ``NUMBER UNIQUE ORDERS`` / ``DATA TYPE``, when present,
    are checked against the data) and data lines ``count: order``, where the order lists
    alternatives best first, with ``{a,b}`` for a tied group. Files number alternatives from 1;
    the result numbers them from 0 (SPEC §4). The data must fit the suffix (``.soc``/``.soi``
    strict, ``.soc``/``.toc`` complete). Alternatives missing from an order in ``.soi``/``.toi``
    are left uncompared (``unlisted_last=False``). Each data line is one entry of ``orders``.
    """
    path, suffix = _suffix(path, tuple(_PREFLIB_SUFFIXES), "read_preflib")
    meta: dict[str, tuple[int, str]] = {}
    names: dict[int, str] = {}
    data: list[tuple[int, str, int, str]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                match = _META.match(line.strip())
                if not match:
                    continue  # a plain comment
                key, value = match.group(1).strip().upper(), match.group(2).strip()
                name = _NAME_KEY.match(key)
                if name:
                    names[int(name.group(1))] = value
                else:
                    meta[key] = (lineno, value)
                continue
            match = _DATA.match(line)
            if not match:
                raise ValueError(f"{path}:{lineno}: expected a data line 'count: order', got {line!r}")
            data.append((lineno, line, int(match.group(1)), match.group(2)))
    if "NUMBER ALTERNATIVES" not in meta:
        raise ValueError(f"{path}: missing '# NUMBER ALTERNATIVES: m' metadata line (PrefLib 2 format expected)")
    m_line, m_text = meta["NUMBER ALTERNATIVES"]
    if not m_text.isdigit() or int(m_text) < 1:
        raise ValueError(f"{path}:{m_line}: NUMBER ALTERNATIVES must be a positive integer, got {m_text!r}")
    m = int(m_text)
    if "DATA TYPE" in meta and meta["DATA TYPE"][1].lower() != suffix[1:]:
        line_no, value = meta["DATA TYPE"]
        raise ValueError(f"{path}:{line_no}: DATA TYPE {value!r} does not match the file suffix {suffix!r}")
    strict, complete = suffix in (".soc", ".soi"), suffix in (".soc", ".toc")
    orders, counts = [], []
    for lineno, line, count, text in data:
        where = f"{path}:{lineno}: in {line!r}"
        if count < 1:
            raise ValueError(f"{where}: the count must be positive, got {count}")
        order = _parse_order(text, m, where)
        if strict and any(len(g) > 1 for g in order):
            raise ValueError(f"{where}: tied group in a {suffix} file ({_PREFLIB_SUFFIXES[suffix]})")
        if complete and sum(len(g) for g in order) != m:
            raise ValueError(
                f"{where}: lists {sum(len(g) for g in order)} of {m} alternatives in a {suffix} file "
                f"({_PREFLIB_SUFFIXES[suffix]})"
            )
        orders.append(order)
        counts.append(count)
    for key, actual in (("NUMBER VOTERS", sum(counts)), ("NUMBER UNIQUE ORDERS", len(orders))):
        if key in meta:
            line_no, value = meta[key]
            if not value.isdigit() or int(value) != actual:
                raise ValueError(f"{path}:{line_no}: {key} says {value!r}, but the data lines give {actual}")
    if names:
        bad = sorted(set(names) - set(range(1, m + 1)))
        if bad:
            raise ValueError(f"{path}: ALTERNATIVE NAME {bad[0]} is outside 1..{m}")
        missing = sorted(set(range(1, m + 1)) - set(names))
        if missing:
            raise ValueError(f"{path}: ALTERNATIVE NAME lines are missing for alternatives {missing[:10]}")
    return Rankings(
        orders=tuple(orders),
        counts=np.array(counts, dtype=np.int64),
        m=m,
        names=tuple(names[i] for i in range(1, m + 1)) if names else None,
        unlisted_last=False,
    )


def write_preflib(rk: Rankings, path, title: str = "", description: str = "", modification_type: str = "synthetic") -> None:
    """Write :class:`Rankings` as a PrefLib 2 file; the suffix must fit the data.

    ``.soc``: strict and complete orders; ``.soi``: strict orders; ``.toc``: complete orders;
    ``.toi``: any orders. Indices are written 1-based (SPEC §4), tied groups as ``{a,b}``.
    Top-k rankings with ``unlisted_last=True`` and incomplete orders raise ValueError, since
    PrefLib's incomplete formats leave unlisted alternatives uncompared. ``ALTERNATIVE NAME``
    lines are written only when ``rk.names`` is set. Dates are left empty (deterministic output).
    """
    if not isinstance(rk, Rankings):
        raise TypeError(f"rk must be a Rankings, got {type(rk).__name__}")
    path, suffix = _suffix(path, tuple(_PREFLIB_SUFFIXES), "write_preflib")
    strict, complete = suffix in (".soc", ".soi"), suffix in (".soc", ".toc")
    for o, order in enumerate(rk.orders):
        if strict and any(len(g) > 1 for g in order):
            raise ValueError(f"write_preflib: {path.name} needs {_PREFLIB_SUFFIXES[suffix]}, but orders[{o}] = {order} has a tie")
        listed = sum(len(g) for g in order)
        if complete and listed != rk.m:
            raise ValueError(
                f"write_preflib: {path.name} needs {_PREFLIB_SUFFIXES[suffix]}, but orders[{o}] lists {listed} of {rk.m}"
            )
        if rk.unlisted_last and listed != rk.m:
            raise ValueError(
                f"write_preflib: orders[{o}] lists {listed} of {rk.m} alternatives and unlisted_last=True; PrefLib's "
                "incomplete formats leave unlisted alternatives uncompared, so this cannot be stored faithfully"
            )
    for field_name, value in (("title", title), ("description", description), ("modification_type", modification_type)):
        if "\n" in str(value):
            raise ValueError(f"write_preflib: {field_name} must be one line, got {value!r}")
    if rk.names is not None:
        bad = [n for n in rk.names if "\n" in n or "\r" in n]
        if bad:
            raise ValueError(f"write_preflib: alternative names must be one line, got {bad[0]!r}")
    lines = [
        f"# FILE NAME: {path.name}",
        f"# TITLE: {title}",
        f"# DESCRIPTION: {description}",
        f"# DATA TYPE: {suffix[1:]}",
        f"# MODIFICATION TYPE: {modification_type}",
        "# RELATES TO: ",
        "# RELATED FILES: ",
        "# PUBLICATION DATE: ",
        "# MODIFICATION DATE: ",
        f"# NUMBER ALTERNATIVES: {rk.m}",
        f"# NUMBER VOTERS: {rk.n_voters}",
        f"# NUMBER UNIQUE ORDERS: {len(rk.orders)}",
    ]
    if rk.names is not None:
        lines += [f"# ALTERNATIVE NAME {i + 1}: {name}" for i, name in enumerate(rk.names)]
    for order, count in zip(rk.orders, rk.counts.tolist()):
        parts = [str(g[0] + 1) if len(g) == 1 else "{" + ",".join(str(x + 1) for x in g) + "}" for g in order]
        lines.append(f"{count}: {','.join(parts)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
