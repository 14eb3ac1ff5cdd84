"""The demo report (psz-case-study: exact estimators, fewer runs) rendered by a real browser: Debian's headless chromium.

``make test`` installs chromium first (the Makefile's ``browser`` target). The page is loaded
twice from file://, with the network off: once with a probe script appended to a copy (it
records, after load, every figure's decoded size and position), once as it is, to a PNG
screenshot. The test asserts that the page loaded (title and headings in the DOM), that every
embedded figure decoded in the browser, and that each figure's area of the screenshot is not
blank.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

from choicelab import reports
from choicelab.scenarios.runner import run_batch
from choicelab.scenarios.spec import builtin_path, parse_scenario
from choicelab.scenarios.store import Store

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
          "--force-device-scale-factor=1", "--hide-scrollbars"]
_PROBE = """<script>
window.addEventListener("load", () => {
  const figs = [...document.querySelectorAll("figure[data-figure] img")].map(img => {
    const r = img.getBoundingClientRect();
    return {key: img.closest("figure").dataset.figure, complete: img.complete, w: img.naturalWidth,
            h: img.naturalHeight, x: r.left + scrollX, y: r.top + scrollY, rw: r.width, rh: r.height};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({title: document.title, height: document.documentElement.scrollHeight,
                                    h2: [...document.querySelectorAll("h2")].map(h => h.textContent), figs});
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed: run `make test` (it installs Debian's chromium) or apt-get install chromium"
    return path


def _run(args, tmp_path, timeout=120) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([_chromium(), *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=timeout)


def _demo_text() -> str:
    """psz-case-study, 2 seeds, the exact estimators only (the neural ones add minutes, not pages)."""
    text = builtin_path("psz-case-study").read_text()
    text, n1 = re.subn(r"(?m)^seeds = 20$", "seeds = 2", text, count=1)
    text, n2 = re.subn(r'(?m)^names = \["mle", "weighted_mle", "neural_mle", "neural_weighted_mle"\]$',
                       'names = ["mle", "weighted_mle"]', text, count=1)
    text, n3 = re.subn(r"(?ms)^\[estimators\.options\.neural_mle\].*?(?=^\[measures\]$)", "", text, count=1)
    text, n4 = re.subn(r"(?ms)^# each neural estimator.*?\n\n", "", text, count=1)
    assert (n1, n2, n3, n4) == (1, 1, 1, 1)
    return text.replace('"fit_quality", "kendall_tau"]', '"fit_quality"]')


def test_demo_report_renders_in_headless_chromium(tmp_path):
    import matplotlib.image as mpimg

    sc = parse_scenario(_demo_text(), builtin_path("psz-case-study"))
    assert sc.params["estimators"]["names"] == ["mle", "weighted_mle"] and sc.seeds == (0, 1)
    db = tmp_path / "demo.sqlite"
    # 2 seeds x the two couplings of the sweep
    assert run_batch(sc, db, workers=1, progress=False).done == 4
    with Store(db) as store:
        means = store.to_frame("results", "psz-case-study").query("measure == 'topic_rewards'") \
            .groupby(["conditions.coupling", "condition", "estimator", "item"])["value"].mean()
    (files,) = reports.build_report(db, batch="psz-case-study", out=tmp_path / "reports")
    page = files.html.read_text()

    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _PROBE + "</body>"))
    dom = _run(["--virtual-time-budget=5000", "--dump-dom", probed.as_uri()], tmp_path)
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert match, f"the page did not load in chromium: {dom.stderr[-800:]}"
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                       .replace("&gt;", ">"))
    assert probe["title"] == "psz-case-study"
    assert probe["h2"] == ["What was run", "Effects of the conditions", "Results per sweep point", "Settings", "Runs"]
    declared = set(re.findall(r'<figure data-figure="([^"]+)"', page))
    # the effects' forest plot, and the declared figure once per sweep point
    assert declared == {"effects", "topic_rewards_by_condition-independent", "topic_rewards_by_condition-paired"}
    assert {f["key"] for f in probe["figs"]} == declared
    for fig in probe["figs"]:
        assert fig["complete"] and fig["w"] > 200 and fig["h"] > 200, fig  # decoded by the browser
        assert fig["rw"] > 200 and fig["rh"] > 100, fig  # laid out at a readable size

    shot = tmp_path / "page.png"
    height = int(probe["height"]) + 20
    res = _run([f"--window-size=1280,{height}", f"--screenshot={shot}", files.html.as_uri()], tmp_path)
    assert shot.is_file(), res.stderr[-800:]
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[1] == 1280 and pixels.shape[0] >= min(height, 2000)
    for fig in probe["figs"]:
        x0, y0 = int(fig["x"]), int(fig["y"])
        crop = pixels[y0:y0 + int(fig["rh"]), x0:x0 + int(fig["rw"])]
        assert crop.size and crop.std() > 0.05, f"figure {fig['key']} is blank in the screenshot"
        assert (crop.mean(axis=2) < 0.5).mean() > 0.005  # dark ink: axes, bars, labels
    # the rest of the page is not blank either (text of the tables)
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.002
    # and the DOM holds the numbers of the store: the topic-reward table as the browser parsed it
    cell = f"{means[('paired', 'clones', 'mle', 'food')]:.4g}"
    assert re.search(rf"<td>clones</td><td>food</td><td>food</td><td>{re.escape(cell)} \[[0-9.e-]+, [0-9.e-]+\]</td>", dom.stdout)
