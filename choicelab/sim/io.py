"""Reading and writing simulator data: npz / CSV, and PrefLib .soc .soi .toc .toi (contract §4).

Every loader picks the format from the file suffix and names the file, the line number and
the offending text when it cannot parse something.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from pathlib import Path

import numpy as np

from choicelab.sim.alternatives import Alternatives
from choicelab.sim.data import Comparisons, Rankings

_COMPARISON_FIELDS = ("a", "b", "winner", "annotator")
_INT64_MAX = 2**63 - 1
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
        raise ValueError(
            f"{path}:{lineno}: cannot read {text!r} as {kind.__name__} in line {','.join(line)!r}"
        ) from None


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
    """Read comparisons (``.npz``, ``.csv`` or ``.jsonl``); the same reader as :func:`read_comparisons`."""
    return read_comparisons(path)


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
    """Read alternatives (``.npz``, ``.npy`` or ``.csv``); the same reader as :func:`read_alternatives`."""
    return read_alternatives(path)


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
            raise ValueError(
                f"{path}:{lineno}: expected {len(rows[0])} fields, got {len(fields)} in {','.join(fields)!r}"
            )
        rows.append([_parse_number(f, float, path, lineno, fields) for f in fields])
    if not rows:
        raise ValueError(f"{path}: empty matrix file")
    return np.array(rows, dtype=float)


# ---------------------------------------------------------------------------------------------
# PrefLib


_META = re.compile(r"^\s*#\s*([^:]+?)\s*: ?(.*)$")
_DATA = re.compile(r"^\s*([0-9]+)\s*:\s*(.*?)\s*$")  # ASCII digits only (\d also takes other scripts' digits)
_MAX_COUNT = 2**63 - 1
_NAME_KEY = re.compile(r"^ALTERNATIVE NAME (\d+)$")


def _parse_order(text: str, m: int, where: str) -> tuple:
    """Parse ``1,2,{3,4},5`` (1-based) into 0-based groups ``((0,), (1,), (2, 3), (4,))``."""
    groups, pos, n = [], 0, len(text)
    seen: set[int] = set()

    def item(tok: str) -> int:
        tok = tok.strip()
        if not re.fullmatch(r"[0-9]+", tok):
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
    the result numbers them from 0 (contract §4). The data must fit the suffix (``.soc``/``.soi``
    strict, ``.soc``/``.toc`` complete). Alternatives missing from an order in ``.soi``/``.toi``
    are left uncompared (``unlisted_last=False``). Each data line is one entry of ``orders``.
    """
    path, suffix = _suffix(path, tuple(_PREFLIB_SUFFIXES), "read_preflib")
    meta: dict[str, tuple[int, str]] = {}
    names: dict[int, str] = {}
    name_lines: dict[int, int] = {}
    data: list[tuple[int, str, int, str]] = []
    text = _text_lines(path)  # UTF-8 (a byte-order mark is skipped); a bad byte names its line
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            match = _META.match(line)
            if not match:
                continue  # a plain comment
            key, value = match.group(1).strip().upper(), match.group(2)
            name = _NAME_KEY.match(key)
            if name:
                k = int(name.group(1))
                if k in names:
                    raise ValueError(f"{path}:{lineno}: ALTERNATIVE NAME {k} repeats line {name_lines[k]}")
                names[k], name_lines[k] = value, lineno  # kept as written: names may have surrounding spaces
            else:
                if key in meta:
                    raise ValueError(f"{path}:{lineno}: the metadata line {key!r} repeats line {meta[key][0]}")
                meta[key] = (lineno, value.strip())
            continue
        match = _DATA.match(line)
        if not match:
            raise ValueError(f"{path}:{lineno}: expected a data line 'count: order', got {line!r}")
        count = int(match.group(1))
        if count > _MAX_COUNT:
            raise ValueError(f"{path}:{lineno}: the count {match.group(1)} is larger than {_MAX_COUNT}")
        data.append((lineno, line, count, match.group(2)))
    if "NUMBER ALTERNATIVES" not in meta:
        raise ValueError(f"{path}: missing '# NUMBER ALTERNATIVES: m' metadata line (PrefLib 2 format expected)")
    m_line, m_text = meta["NUMBER ALTERNATIVES"]
    if not re.fullmatch(r"[0-9]+", m_text) or int(m_text) < 1:
        raise ValueError(f"{path}:{m_line}: NUMBER ALTERNATIVES must be a positive integer, got {m_text!r}")
    m = int(m_text)
    if "DATA TYPE" in meta and meta["DATA TYPE"][1].lower() != suffix[1:]:
        line_no, value = meta["DATA TYPE"]
        raise ValueError(f"{path}:{line_no}: DATA TYPE {value!r} does not match the file suffix {suffix!r}")
    if not data:
        raise ValueError(f"{path}: holds no data lines ('count: order'); a preference file needs at least one")
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
            if not re.fullmatch(r"[0-9]+", value) or int(value) != actual:
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


def write_preflib(
    rk: Rankings, path, title: str = "", description: str = "", modification_type: str = "synthetic"
) -> None:
    """Write :class:`Rankings` as a PrefLib 2 file; the suffix must fit the data.

    ``.soc``: strict and complete orders; ``.soi``: strict orders; ``.toc``: complete orders;
    ``.toi``: any orders. Indices are written 1-based (contract §4), tied groups as ``{a,b}``.
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
            raise ValueError(
                f"write_preflib: {path.name} needs {_PREFLIB_SUFFIXES[suffix]}, but orders[{o}] = {order} has a tie"
            )
        listed = sum(len(g) for g in order)
        if complete and listed != rk.m:
            raise ValueError(
                f"write_preflib: {path.name} needs {_PREFLIB_SUFFIXES[suffix]}, "
                f"but orders[{o}] lists {listed} of {rk.m}"
            )
        if rk.unlisted_last and listed != rk.m:
            raise ValueError(
                f"write_preflib: orders[{o}] lists {listed} of {rk.m} alternatives and unlisted_last=True; PrefLib's "
                "incomplete formats leave unlisted alternatives uncompared, so this cannot be stored faithfully"
            )
    for field_name, value in (("title", title), ("description", description), ("modification_type", modification_type)):
        if "\n" in str(value) or "\r" in str(value):
            raise ValueError(f"write_preflib: {field_name} must be one line (no line break), got {value!r}")
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


# ---------------------------------------------------------------------------------------------
# The readers of your own data: one per format, shared by the simulator and the scenarios.


class DataFileError(ValueError):
    """A data file cannot be read; names the file, the line, the field and the value.

    Attributes
    ----------
    file : str
    line : int or None
        1-based line of the record (None for binary formats or whole-file problems).
    field : str or None
        Column, JSON field or array name.
    value : object
        The offending text or number; :data:`MISSING` when there is none.
    message : str
    """

    def __init__(self, file, line, field, value, message):
        self.file, self.line, self.field, self.value, self.message = str(file), line, field, value, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field is None:
            return f"{where}: {self.message}"
        if self.value is MISSING:
            return f"{where}: {self.field}: {self.message}"
        text = repr(self.value)
        text = text if len(text) <= 80 else text[:77] + "..."
        return f"{where}: {self.field} = {text}: {self.message}"


class _Missing:
    def __repr__(self):
        return "<missing>"


MISSING = _Missing()


def _text_lines(path: Path):
    """``(line number, text)`` of a UTF-8 file (a byte-order mark is skipped); errors name the line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, None, None, MISSING, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFileError(
            path,
            line,
            None,
            MISSING,
            f"is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); save the file as UTF-8",
        ) from None
    return text


def _csv_records(path: Path):
    text = _text_lines(path)
    out = []
    for lineno, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if fields and any(f.strip() for f in fields):
            out.append((lineno, [f.strip() for f in fields]))
    return out


def _header_check(path, lineno, header):
    seen = set()
    for name in header:
        if name == "":
            raise DataFileError(path, lineno, "header", ",".join(header), "the header has an empty column name")
        if name in seen:
            raise DataFileError(path, lineno, name, MISSING, "appears twice in the header")
        seen.add(name)


def _int_field(path, lineno, name, raw):
    if isinstance(raw, bool):
        raise DataFileError(path, lineno, name, raw, "must be an integer")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise DataFileError(path, lineno, name, raw, "must be an integer")
        raw = int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):  # ASCII digits only: int() also takes other scripts' digits
            raise DataFileError(path, lineno, name, raw, "must be an integer")
        raw = int(text)
    if not isinstance(raw, int):
        raise DataFileError(path, lineno, name, raw, "must be an integer")
    if not -1 <= raw <= _INT64_MAX:
        raise DataFileError(path, lineno, name, raw, f"must be an integer in [-1, {_INT64_MAX}]")
    return raw


def _check_row_width(path, lineno, fields, header) -> None:
    """A CSV row must have one field per header column (DataFileError naming the row otherwise)."""
    if len(fields) != len(header):
        raise DataFileError(
            path,
            lineno,
            "row",
            ",".join(fields),
            f"expected {len(header)} fields ({','.join(header)}), got {len(fields)}",
        )


def _float_field(path, lineno, name, raw):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DataFileError(path, lineno, name, raw, "is not a number") from None
    if not np.isfinite(value):
        raise DataFileError(path, lineno, name, raw, "must be finite")
    return value


def read_alternatives(path) -> Alternatives:
    """Alternatives from a file: ``.npy``, ``.npz`` or ``.csv`` (the one reader of every format).

    * ``.npy``: an (m, d) numeric array (labels 0..m-1).
    * ``.npz``: arrays ``X``, ``labels``, ``clone_of`` (as :func:`save_alternatives` writes them).
    * ``.csv``: a header row, then one alternative per row. Either the typed header of
      :func:`save_alternatives` (``label:int`` or ``label:str``, ``clone_of``, ``x0``, ...), or
      any header where an optional ``label`` column holds names, an optional ``clone_of`` column
      the index of the original a row copies (``-1`` for an original), and every other column is a
      coordinate. A column name may appear once; a UTF-8 byte-order mark is accepted.

    Raises
    ------
    DataFileError
        Naming the file, line, column and value of the first malformed entry.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> _ = open(path, "w").write("label,x,y\\nfood,0.5,1\\nart,2,0\\n")
    >>> alts = read_alternatives(path)
    >>> alts.labels.tolist(), alts.X.tolist()
    (['food', 'art'], [[0.5, 1.0], [2.0, 0.0]])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = _npz_arrays(path, ("X", "labels", "clone_of"), "read_alternatives")
        try:
            return Alternatives(arrays["X"], labels=arrays["labels"], clone_of=arrays["clone_of"])
        except ValueError as exc:
            raise DataFileError(path, None, None, MISSING, str(exc)) from None
    if suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFileError(path, None, None, MISSING, f"not a readable .npy array: {exc}") from None
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1 or not np.issubdtype(X.dtype, np.number):
            raise DataFileError(
                path, None, None, MISSING, f"must hold a numeric (m, d) array, got shape {X.shape} dtype {X.dtype}"
            )
        X = X.astype(float)
        bad = np.argwhere(~np.isfinite(X))
        if bad.size:
            i, j = bad[0]
            raise DataFileError(path, None, f"row {i}, column {j}", float(X[i, j]), "must be finite")
        return Alternatives(X)
    if suffix != ".csv":
        raise DataFileError(path, None, None, MISSING, "alternatives must be a .csv, .npy or .npz file")
    rows = _csv_records(path)
    if not rows:
        raise DataFileError(path, 1, None, MISSING, "empty file; expected a header row and one row per alternative")
    header_line, header = rows[0]
    _header_check(path, header_line, header)
    typed = header[0] in ("label:int", "label:str")
    label_col = 0 if typed else (header.index("label") if "label" in header else None)
    clone_col = header.index("clone_of") if "clone_of" in header else None
    coord_cols = [k for k in range(len(header)) if k not in (label_col, clone_col)]
    if not coord_cols:
        raise DataFileError(path, header_line, "header", ",".join(header), "the header names no coordinate column")
    X, labels, clone_of = [], [], []
    for lineno, fields in rows[1:]:
        _check_row_width(path, lineno, fields, header)
        X.append([_float_field(path, lineno, header[k], fields[k]) for k in coord_cols])
        if label_col is not None:
            raw = fields[label_col]
            labels.append(_int_field(path, lineno, header[label_col], raw) if header[0] == "label:int" else raw)
        if clone_col is not None:
            clone_of.append(_int_field(path, lineno, "clone_of", fields[clone_col]))
    if not X:
        raise DataFileError(path, header_line, None, MISSING, "holds no alternative (only a header)")
    try:
        return Alternatives(
            np.asarray(X, dtype=float),
            labels=np.asarray(labels) if label_col is not None else None,
            clone_of=np.asarray(clone_of, dtype=np.int64) if clone_col is not None else None,
        )
    except ValueError as exc:
        raise DataFileError(path, None, None, MISSING, str(exc)) from None


def read_embeddings(path) -> tuple:
    """``(X, labels)`` of :func:`read_alternatives` (labels None when the file names none)."""
    alts = read_alternatives(path)
    has_labels = Path(path).suffix.lower() == ".npz" or _csv_has_labels(path)
    return alts.X.copy(), ([str(x) for x in alts.labels.tolist()] if has_labels else None)


def _csv_has_labels(path) -> bool:
    if Path(path).suffix.lower() != ".csv":
        return False
    rows = _csv_records(Path(path))
    return bool(rows) and (rows[0][1][0] in ("label:int", "label:str") or "label" in rows[0][1])


def read_comparisons(path, m: int | None = None) -> Comparisons:
    """Pairwise comparisons from ``.csv``, ``.jsonl`` or ``.npz`` (the one reader of every format).

    Each record names two distinct alternatives ``a``, ``b`` (0-based, ``< m`` when ``m`` is
    given), the ``winner`` (``a``, ``b``, or ``-1`` for a tie, which counts 1/2 to each side)
    and optionally an ``annotator`` id (an integer >= 0, or ``-1`` when unknown). CSV: the header
    ``a,b,winner`` or ``a,b,winner,annotator``; JSONL: one object per line, e.g.
    ``{"a": 0, "b": 3, "winner": 3, "annotator": 1}``; NPZ: the arrays of :func:`save_comparisons`.

    Raises
    ------
    DataFileError
        Naming the file, line and field of the first malformed record.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    records = []
    if suffix == ".npz":
        arrays = _npz_arrays(path, _COMPARISON_FIELDS, "read_comparisons")
        table = np.column_stack([np.asarray(arrays[k]).reshape(-1) for k in _COMPARISON_FIELDS])
        records = [(None, dict(zip(_COMPARISON_FIELDS, (int(v) for v in row)))) for row in table]
    elif suffix == ".jsonl":
        text = _text_lines(path)
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(path, lineno, None, line.strip()[:60], f"not a JSON object: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise DataFileError(path, lineno, None, obj, "must be a JSON object with a, b, winner")
            extra = [k for k in obj if k not in _COMPARISON_FIELDS]
            if extra:
                hint = difflib.get_close_matches(extra[0], list(_COMPARISON_FIELDS), n=1)
                raise DataFileError(
                    path,
                    lineno,
                    extra[0],
                    obj[extra[0]],
                    "unknown field" + (f"; did you mean {hint[0]!r}?" if hint else ""),
                )
            records.append((lineno, obj))
    elif suffix == ".csv":
        rows = _csv_records(path)
        if not rows:
            raise DataFileError(path, 1, None, MISSING, "empty file; expected the header a,b,winner[,annotator]")
        hl, header = rows[0]
        if header[:3] != list(_COMPARISON_FIELDS[:3]) or header[3:] not in ([], ["annotator"]):
            raise DataFileError(
                path, hl, "header", ",".join(header), "expected the header a,b,winner or a,b,winner,annotator"
            )
        for lineno, fields in rows[1:]:
            _check_row_width(path, lineno, fields, header)
            records.append((lineno, dict(zip(header, fields))))
    else:
        raise DataFileError(path, None, None, MISSING, "comparisons must be a .csv, .jsonl or .npz file")
    out = np.empty((len(records), 4), dtype=np.int64)
    for k, (lineno, rec) in enumerate(records):
        vals = {}
        for name in _COMPARISON_FIELDS:
            if name not in rec:
                if name == "annotator":
                    vals[name] = -1
                    continue
                raise DataFileError(path, lineno, name, MISSING, "is missing")
            vals[name] = _int_field(path, lineno, name, rec[name])
        a, b, w = vals["a"], vals["b"], vals["winner"]
        for name in ("a", "b"):
            if vals[name] < 0 or (m is not None and vals[name] >= m):
                bound = f"[0, {m})" if m is not None else "[0, inf)"
                raise DataFileError(path, lineno, name, vals[name], f"must be an alternative index in {bound}")
        if a == b:
            raise DataFileError(path, lineno, "b", b, "must differ from a")
        if w not in (a, b, -1):
            raise DataFileError(path, lineno, "winner", w, f"must be a ({a}), b ({b}) or -1 for a tie")
        out[k] = (a, b, w, vals["annotator"])
    return Comparisons(out[:, 0], out[:, 1], out[:, 2], out[:, 3])
