"""Check that the built site loads nothing from the network (run by ``make docs`` after the build).

Every ``<script src>``, ``<link href>``, ``<img src>``, ``<iframe src>``, ``<source src>`` and
CSS ``url(...)`` / ``@import`` in the HTML and CSS files must be relative to the site, and every
page that holds mathematics must load MathJax from ``_static/mathjax`` (the copy that
``sphinx-mathjax-offline`` ships), which must be there. Plain links (``<a href>``) to other sites
are allowed: following one is the reader's choice, not something a page does on its own.

The bundled MathJax's own JavaScript names a CDN for optional components (the speech-rule
engine of its accessibility menu); ``conf.py`` disables that menu, so none is ever requested,
and the MathJax sources are not scanned here.

Usage: ``python docs/_ext/check_offline.py docs/_build/html``; exit status 1 with one line per
problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_LOADS = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc\s*=\s*[\"']?(?P<a>[^\"'\s>]+)"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?P<b>[^\"'\s>]+)"
    r"|url\(\s*[\"']?(?P<c>[^\"')]+)"
    r"|@import\s+[\"'](?P<d>[^\"']+)",
    re.IGNORECASE,
)
_REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
_MATHJAX = "_static/mathjax/tex-chtml.js"


def problems(site: Path) -> list[str]:
    out = []
    if not (site / "index.html").is_file():
        return [f"{site}: no index.html (build the site first)"]
    if not (site / _MATHJAX).is_file():
        out.append(f"{site / _MATHJAX}: the bundled MathJax is missing")
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css") or "mathjax" in path.relative_to(site).parts:
            continue
        text = path.read_text(errors="replace")
        for match in _LOADS.finditer(text):
            target = next(g for g in match.groups() if g)
            if _REMOTE.match(target):
                out.append(f"{path.relative_to(site)}: loads {target}")
        if path.suffix == ".html" and 'class="math' in text:
            scripts = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*mathjax[^\"]*)\"", text)
            if not scripts or not all(s.split("?")[0].endswith(_MATHJAX) for s in scripts):
                out.append(f"{path.relative_to(site)}: mathematics without the bundled MathJax ({scripts})")
    return out


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    found = problems(site)
    for line in found:
        print(f"check_offline: {line}", file=sys.stderr)
    if not found:
        pages = sum(1 for _ in site.rglob("*.html"))
        print(f"check_offline: {pages} pages, nothing loaded from the network, MathJax bundled")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
