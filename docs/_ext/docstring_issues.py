"""Let the build name known docstring problems without failing on them, one object at a time.

``make docs`` builds with warnings as errors. A few docstrings in the package are not valid
reStructuredText yet (aligned two-column layouts that docutils reads as stray indentation, a
``[x]`` read as a substitution). They render legibly anyway, and fixing them belongs to the
package, not to the documentation. ``known_docstring_issues`` in ``conf.py`` lists them as
``(documented object, start of the docutils message)`` pairs: only a docutils message about the
docstring of exactly that object, starting with exactly that text, is logged as information
instead of a warning. Anything else, in any other docstring or page, still fails the build. At
the end the build prints which entries matched and which no longer match (fixed: delete them).
"""

from __future__ import annotations

import logging

from sphinx.util import logging as sphinx_logging

_log = sphinx_logging.getLogger(__name__)


class _KnownIssues(logging.Filter):
    def __init__(self, entries):
        super().__init__()
        self.entries = [(str(obj), str(msg)) for obj, msg in entries]
        self.hits: dict[tuple[str, str], list[str]] = {}

    def match(self, record) -> tuple[str, str] | None:
        if getattr(record, "type", "") != "docutils" or record.levelno < logging.WARNING:
            return None
        location = str(getattr(record, "location", "") or "")
        _, sep, rest = location.partition(":docstring of ")
        if not sep:
            return None
        obj, _, line = rest.rpartition(":")
        obj = obj or rest
        message = record.getMessage()
        for entry in self.entries:
            if obj == entry[0] and message.startswith(entry[1]):
                self.hits.setdefault(entry, []).append(f"{location.split(':docstring of ')[0]}:{line} {message}")
                return entry
        return None

    def filter(self, record) -> bool:
        return self.match(record) is None


def _install(app, config) -> None:
    known = _KnownIssues(config.known_docstring_issues)
    app._known_docstring_issues = known
    for handler in logging.getLogger(sphinx_logging.NAMESPACE).handlers:
        if isinstance(handler, sphinx_logging.WarningStreamHandler):
            handler.filters.insert(0, known)  # before Sphinx counts the warning


def _report(app, exc) -> None:
    known = getattr(app, "_known_docstring_issues", None)
    if known is None or exc is not None:
        return
    for entry in known.entries:
        hits = known.hits.get(entry)
        if hits:
            for hit in dict.fromkeys(hits):
                _log.info("known docstring issue (conf.py known_docstring_issues): %s", hit)
        else:  # (make docs reads every page afresh, so a missing hit means the docstring changed)
            _log.info("known_docstring_issues entry %r no longer matches anything: delete it", entry)


def setup(app):
    app.add_config_value("known_docstring_issues", [], "env")
    app.connect("config-inited", _install)
    app.connect("build-finished", _report)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
