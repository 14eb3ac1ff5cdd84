"""Self-contained HTML and Markdown reports built from the results store .

A report reads only the store (:class:`choicelab.scenarios.store.Store`): the batch row (its
scenario text, validated params and declared figures), the runs, their result rows and blobs.
Nothing is refitted. Per batch it writes ``<out>/<batch>/index.html`` (one file, figures
embedded as PNG data URIs, no network access needed), ``report.md`` with the same content and
its figures as ``fig-*.png`` beside it, and every witness of a violation as
``witnesses/*.json`` (replayable with :func:`choicelab.axioms.replay` where the check has one).

Sections: what was run and how to reproduce it; what the experiment composes (its conditions,
estimators and measures, described by the registries when the batch ran); theory against
measurement (the verdicts table, with agreement marks and witnesses); results and figures per
sweep point (:mod:`choicelab.reports.experiment`, generic over measures and figures); the exact
settings and seeds; the runs.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["build_report", "ReportFiles"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_MARK = {True: "✓ agrees", False: "✗ disagrees", None: "–"}
_MAX_TABLE_ROWS = 200


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote for one batch."""

    batch: str
    folder: Path
    html: Path
    markdown: Path
    figures: tuple[str, ...]
    witnesses: tuple[Path, ...]


# ---------------------------------------------------------------------------------------------
# Blocks: the content, rendered twice (HTML and Markdown)

@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Para:
    text: str
    code: bool = False  # render as one line of code


@dataclass(frozen=True)
class _Table:
    header: tuple
    rows: tuple
    caption: str = ""


@dataclass(frozen=True)
class _Link:
    """A table cell that links to a file beside the report."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Figure:
    key: str
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class _Pre:
    summary: str
    text: str
    link: str = ""  # a file beside report.md holding the same text


@dataclass
class _Report:
    title: str
    blocks: list = field(default_factory=list)
    witnesses: dict = field(default_factory=dict)  # relative path -> JSON text

    def add(self, block) -> None:
        self.blocks.append(block)


# ---------------------------------------------------------------------------------------------
# Reading a batch

@dataclass
class _Batch:
    name: str
    kind: str
    meta: dict  # the batches row's params: params, sweep, report, seeds, base_seed, description
    row: dict
    runs: list
    done: list
    store: object
    db: str

    @property
    def params(self) -> dict:
        return self.meta.get("params", {})

    @property
    def figures(self) -> list:
        return list(self.meta.get("report", {}).get("figures", []))

    def blob(self, run_id: str, name: str):
        try:
            return self.store.blob(run_id, name)
        except KeyError:
            return None



def _load(store, name: str, db: str) -> _Batch:
    rows = [b for b in store.batches() if b["name"] == name]
    if not rows:
        known = ", ".join(b["name"] for b in store.batches()) or "none"
        raise ValueError(f"batch: no batch {name!r} in the store {db!r} (batches: {known})")
    row = rows[0]
    runs = sorted(store.runs(batch=name), key=_run_order)
    done = [r for r in runs if r["status"] == "done"]
    return _Batch(name=name, kind=row["kind"], meta=row["params"] or {}, row=row, runs=runs, done=done,
                  store=store, db=db)


def _run_order(run: dict):
    """Seed, then sweep point with numbers compared as numbers (m = 4 before m = 16)."""
    point = tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, json.dumps(v, sort_keys=True)))
                  for k, v in sorted(run["point"].items()))
    return run["seed"], point


# ---------------------------------------------------------------------------------------------
# Public entry point

def build_report(db, batch: str | None = None, out="reports") -> list[ReportFiles]:
    """Write the HTML and Markdown report of one batch (or of every batch) of a results store.

    Parameters
    ----------
    db : str or Path
        The SQLite store written by ``choicelab run`` (it must exist; it is opened, never
        created or changed).
    batch : str, optional
        The batch (scenario) name; by default every batch in the store.
    out : str or Path
        Output folder; batch ``b`` goes to ``out/b/index.html`` and ``out/b/report.md``. A batch
        whose name is not a plain file name (letters, digits, ``.``, ``_``, ``-``) gets a folder
        named by a hash of the name.

    Returns
    -------
    list of ReportFiles

    Examples
    --------
    >>> from choicelab import reports
    >>> files = reports.build_report("choicelab.sqlite", batch="psz-case-study")  # doctest: +SKIP
    >>> files[0].html                                                             # doctest: +SKIP
    PosixPath('reports/psz-case-study/index.html')
    """
    from choicelab.scenarios.store import Store

    db_path = Path(db)
    if not db_path.is_file():
        raise ValueError(f"db: no results store at {str(db_path)!r} (run a scenario first: choicelab run NAME --db {db})")
    out = Path(out)
    written = []
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} is a file, not a folder")
    try:
        store = Store(db_path, readonly=True)  # a report never writes to the store
    except ValueError as exc:
        raise ValueError(f"db: {exc}") from None
    with store:
        names = [b["name"] for b in store.batches()] if batch is None else [batch]
        if not names:
            raise ValueError(f"db: the store {str(db_path)!r} holds no batch yet")
        for name in names:
            data = _load(store, name, str(db_path))
            report = _build(data)
            written.append(_write(report, out / _folder_name(name), name))
    return written


def _folder_name(name: str) -> str:
    if _SAFE_NAME.match(name) and name not in (".", ".."):
        return name
    import hashlib

    return "batch-" + hashlib.sha256(name.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Content

def _build(b: _Batch) -> _Report:
    from choicelab.reports.experiment import experiment_sections

    rep = _Report(title=b.name)
    _header(rep, b)
    experiment_sections(rep, b)
    _settings_section(rep, b)
    _runs_section(rep, b)
    return rep


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "nan" if np.isnan(value) else str(value)
        return f"{value:.{digits}g}"
    return str(value)


def _when(ts) -> str:
    if ts is None:
        return "–"
    return _dt.datetime.fromtimestamp(float(ts), tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _header(rep: _Report, b: _Batch) -> None:
    desc = (b.meta.get("description") or "").strip()
    if desc:
        for para in re.split(r"\n\s*\n", desc):
            rep.add(_Para(" ".join(para.split())))
    counts = {s: sum(r["status"] == s for r in b.runs) for s in ("done", "error", "running")}
    seconds = sum(r["seconds"] or 0.0 for r in b.done)
    rep.add(_Table(("store", "created", "updated", "runs done", "errors", "unfinished", "compute (s)"),
                   ((b.db, _when(b.row.get("created")), _when(b.row.get("updated")), counts["done"],
                     counts["error"], counts["running"], f"{seconds:.1f}"),)))
    source = b.row.get("source") or b.name
    plugins = "".join(f" --plugin {p}" for p in (b.params.get("plugins") or {}).get("modules", []))
    identity = b.meta.get("identity") or {}
    seed = "" if identity.get("seed_override") is None else f" --seed {identity['seed_override']}"
    file_name = (b.params.get("scenario") or {}).get("name")
    renamed = f" --new-batch {b.name}" if file_name and file_name != b.name else ""
    rep.add(_Para("Reproduce: choicelab run " + source + plugins + seed + renamed + f" --db {b.db} && "
                  f"choicelab report --db {b.db} --batch {b.name}", code=True))
    if counts["error"] or counts["running"]:
        rep.add(_Para(f"Only the {counts['done']} done runs enter the figures and tables; "
                      f"{counts['error']} runs raised and {counts['running']} are unfinished (see Runs)."))


# --- theory against measurement ---------------------------------------------------------------

def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))[:80] or "x"


def _truncated(n: int) -> str:
    return f"First {_MAX_TABLE_ROWS} of {n} rows." if n > _MAX_TABLE_ROWS else ""


# --- settings and runs ------------------------------------------------------------------------

def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, json.dumps(value, default=str)))


def _settings_section(rep: _Report, b: _Batch) -> None:
    rep.add(_Heading(2, "Settings"))
    flat: list = []
    _flatten("", b.params, flat)
    rep.add(_Table(("key", "value"), tuple(flat), caption="The validated parameters every run received before "
                                                           "its sweep values (defaults filled in)."))
    sweep = b.meta.get("sweep") or {}
    if sweep:
        rep.add(_Table(("swept key", "values"), tuple((k, json.dumps(v, default=str)) for k, v in sweep.items())))
    run_seeds = sorted({r["seed"] for r in b.runs})
    rep.add(_Para(f"Seeds: base seed {b.meta.get('base_seed', '–')}, offsets "
                  f"{json.dumps(b.meta.get('seeds', []))}; the runs in the store have seeds "
                  f"{json.dumps(run_seeds) if len(run_seeds) <= 30 else f'{run_seeds[0]}..{run_seeds[-1]}'}; each run "
                  f"draws everything from numpy.random.default_rng(seed)."))
    text = b.row.get("scenario") or ""
    if text:
        rep.add(_Pre("scenario file as run", text))


def _runs_section(rep: _Report, b: _Batch) -> None:
    rep.add(_Heading(2, "Runs"))
    body = []
    for r in b.runs:
        error = (r["error"] or "").strip().splitlines()
        body.append((r["run_id"][:12], r["seed"], json.dumps(r["point"], default=str) if r["point"] else "",
                     r["status"], _fmt(r["seconds"], 3), error[-1] if error else ""))
    rep.add(_Table(("run", "seed", "sweep point", "status", "seconds", "error"), tuple(body[:_MAX_TABLE_ROWS]),
                   caption=_truncated(len(body))))


# ---------------------------------------------------------------------------------------------
# Rendering

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;margin:1.5em auto;
padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}h2{font-size:1.25em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.86em;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}caption{caption-side:bottom;text-align:left;color:#57606a;padding-top:.3em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:.9em}code{background:#f6f8fa;padding:.15em .35em;border-radius:4px}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.8em;max-height:28em}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}footer{color:#57606a;font-size:.8em;margin-top:3em}
"""


def _cell_html(text) -> str:
    if isinstance(text, _Link):
        return f'<a href="{html.escape(text.href)}">{html.escape(text.text)}</a>'
    text = html.escape(str(text))
    if text.startswith("✓"):
        return f'<span class="ok">{text}</span>'
    if text.startswith("✗"):
        return f'<span class="bad">{text}</span>'
    return text


def _render_html(rep: _Report) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(rep.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(rep.title)}</h1>"]
    for blk in rep.blocks:
        if isinstance(blk, _Heading):
            parts.append(f"<h{blk.level}>{e(blk.text)}</h{blk.level}>")
        elif isinstance(blk, _Para):
            parts.append(f"<p><code>{e(blk.text)}</code></p>" if blk.code else f"<p>{e(blk.text)}</p>")
        elif isinstance(blk, _Table):
            head = "".join(f"<th>{e(str(h))}</th>" for h in blk.header)
            body = "".join("<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>" for row in blk.rows)
            cap = f"<caption>{e(blk.caption)}</caption>" if blk.caption else ""
            parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(blk, _Figure):
            data = base64.b64encode(blk.png).decode("ascii")
            parts.append(f'<figure data-figure="{e(blk.key)}"><img alt="{e(blk.title)}" '
                         f'src="data:image/png;base64,{data}"><figcaption>{e(blk.caption)}</figcaption></figure>')
        elif isinstance(blk, _Pre):
            link = f' (also <a href="{e(blk.link)}">{e(blk.link)}</a>)' if blk.link else ""
            parts.append(f"<details><summary>{e(blk.summary)}{link}</summary><pre>{e(blk.text)}</pre></details>")
    parts.append(f"<footer>choicelab report, written {e(_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} "
                 "from the results store alone.</footer></body></html>")
    return "\n".join(parts)


def _md(text) -> str:
    """A Markdown table cell or paragraph: no HTML, no table breaks, no stray emphasis."""
    text = html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")
    return re.sub(r"([\\`*_\[\]#])", lambda m: m.group(1) if m.group(1) == "\\" else "\\" + m.group(1), text)


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text`` (CommonMark closes on a run as long)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _render_markdown(rep: _Report, figure_files: dict) -> str:
    lines = [f"# {_md(rep.title)}", ""]
    for blk in rep.blocks:
        if isinstance(blk, _Heading):
            lines += ["#" * blk.level + " " + _md(blk.text), ""]
        elif isinstance(blk, _Para):
            if blk.code:
                fence = "`" * (max((len(r) for r in re.findall(r"`+", blk.text)), default=0) + 1)
                pad = " " if blk.text.startswith("`") or blk.text.endswith("`") else ""
                lines += [f"{fence}{pad}{blk.text}{pad}{fence}", ""]
            else:
                lines += [_md(blk.text), ""]
        elif isinstance(blk, _Table):
            lines.append("| " + " | ".join(_md(h) for h in blk.header) + " |")
            lines.append("|" + "---|" * len(blk.header))
            lines += ["| " + " | ".join(f"[{_md(c)}]({c.href})" if isinstance(c, _Link) else _md(c) for c in row)
                      + " |" for row in blk.rows]
            lines += ([""] + [f"_{_md(blk.caption)}_"] if blk.caption else []) + [""]
        elif isinstance(blk, _Figure):
            lines += [f"![{_md(blk.title)}]({figure_files[blk.key]})", "", f"_{_md(blk.caption)}_", ""]
        elif isinstance(blk, _Pre):
            if blk.link:
                lines += [f"- {_md(blk.summary)}: [{blk.link}]({blk.link})", ""]
            else:
                fence = _fence(blk.text)
                lines += [f"{_md(blk.summary)}:", "", fence + "toml", blk.text.rstrip(), fence, ""]
    return "\n".join(lines).rstrip() + "\n"


def _write(rep: _Report, folder: Path, name: str) -> ReportFiles:
    folder.mkdir(parents=True, exist_ok=True)
    figure_files = {}
    for blk in rep.blocks:
        if isinstance(blk, _Figure):
            fname = f"fig-{_file_part(blk.key)}.png"
            (folder / fname).write_bytes(blk.png)
            figure_files[blk.key] = fname
    witnesses = []
    for rel, text in rep.witnesses.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        witnesses.append(path)
    html_path, md_path = folder / "index.html", folder / "report.md"
    html_path.write_text(_render_html(rep), encoding="utf-8")
    md_path.write_text(_render_markdown(rep, figure_files), encoding="utf-8")
    return ReportFiles(batch=name, folder=folder, html=html_path, markdown=md_path,
                       figures=tuple(figure_files), witnesses=tuple(witnesses))
