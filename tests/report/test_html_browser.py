"""The HTML report opened in a real headless Chromium: the plots render.

The page itself has no script. The test writes a copy with a small probe script appended
that measures every plot in the laid-out page (bounding boxes, mark counts, the length
of the median curve, overlapping labels, repeated tick labels) and prints the figures
into the DOM, which Chromium's ``--dump-dom`` hands back. A screenshot is taken too, as
a smoke test of painting, and kept in ``build/test-artefacts/report.png``.

Chromium comes from Debian (``apt-get install chromium``, in the project's system
dependencies, installed by ``make test``). Without it the test fails with that fix; it
never skips.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tuningsweep.reports import report_command

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"

PROBE = """
<script>
const out = {plots: {}};
const overlap = (a, b) => {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return w > 1 && h > 1 ? (w * h) / Math.min(a.width * a.height, b.width * b.height) : 0;
};
for (const svg of document.querySelectorAll('svg.plot')) {
  const box = svg.getBoundingClientRect();
  // Every label of the plot, laid out: no two may overlap (a title over tick labels).
  const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim())
    .map((t) => ({text: t.textContent.trim(), box: t.getBoundingClientRect()}));
  const overlaps = [];
  for (let i = 0; i < texts.length; i++)
    for (let j = i + 1; j < texts.length; j++)
      if (overlap(texts[i].box, texts[j].box) > 0.2) overlaps.push([texts[i].text, texts[j].text]);
  // The y tick labels of each panel (matplotlib's axes groups; none in hand-drawn SVG).
  const yticks = [...svg.querySelectorAll('g[id^="axes_"]')].map((axes) =>
    [...axes.querySelectorAll('g[id^="ytick"] text')].map((t) => t.textContent.trim()));
  out.plots[svg.id] = {width: box.width, height: box.height, overlaps, yticks,
                       marks: svg.querySelectorAll('circle,rect,polyline,polygon,line,path,use').length};
}
const count = (selector) => document.querySelectorAll(selector).length;
out.heatCells = count('#window-heatmap .heat-cell');
out.parallelLines = count('#parallel-coordinates .pc-line');
out.trendPoints = count('svg.trend-plot .trend-point');
out.importanceBars = count('#importance .importance-bar');
out.leaderboardRows = count('#leaderboard-table tbody tr');
out.curvePanels = count('#learning-curves .median-line');
const median = document.querySelector('#learning-curves .median-line path');
out.medianLength = median ? median.getTotalLength() : 0;
const band = document.querySelector('#learning-curves .iqr-band path');
out.bandArea = band ? band.getBBox().width * band.getBBox().height : 0;
out.titles = count('svg.plot title');
out.externalRequests = performance.getEntriesByType('resource')
  .filter((entry) => !entry.name.startsWith('file:') && !entry.name.startsWith('data:')).length;
const pre = document.createElement('pre');
pre.id = 'probe-result';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>
"""

def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed: run scripts/install-system-deps.sh (make test does)")


def browser_args(binary: str, profile: Path) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}"]


def test_plots_render_in_chromium(results_dir: Path, tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    assert report_command(str(results_dir), "html", str(page), None, None) == 0
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [*browser_args(binary, tmp_path / "profile"), "--virtual-time-budget=5000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no probe output; chromium said: {result.stderr[-2000:]}"
    found = json.loads(html.unescape(match.group(1)))
    for plot_id in ("window-heatmap", "importance", "parallel-coordinates", "learning-curves",
                    "interaction", "trend-learning_rate", "trend-hidden_units",
                    "trend-optimizer"):
        plot = found["plots"][plot_id]
        assert plot["width"] > 100 and plot["height"] > 80 and plot["marks"] > 0, plot_id
    assert found["heatCells"] == 13
    assert found["parallelLines"] == 5  # every configuration with a result, as the trends
    assert found["trendPoints"] == 3 + 2 + 2  # levels of lr, hidden_units, optimizer
    assert found["importanceBars"] == 3
    assert found["leaderboardRows"] == 5
    assert found["curvePanels"] == 3  # one per window: windows are not pooled
    assert found["medianLength"] > 100 and found["bandArea"] > 100
    assert found["titles"] > 13  # hover values on the marks
    assert found["externalRequests"] == 0
    # Issue 14: readable axes. Tick labels are distinct (no "2.18e+03" three times) and
    # no label is drawn over another (an axis title over its tick labels).
    for plot_id, plot in found["plots"].items():
        assert plot["overlaps"] == [], (plot_id, plot["overlaps"])
    for plot_id in ("trend-learning_rate", "trend-hidden_units", "learning-curves"):
        # (An axes without y ticks, such as the counts along a trend plot's top, is skipped.)
        panels = [ticks for ticks in found["plots"][plot_id]["yticks"] if ticks]
        assert panels, plot_id
        for ticks in panels:
            assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), (plot_id, ticks)


def test_screenshot_paints(results_dir: Path, tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    assert report_command(str(results_dir), "html", str(page), None, None) == 0
    # Kept as a test artefact for a person to look at (build/ is not committed).
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [*browser_args(binary, tmp_path / "profile"), "--window-size=1280,3000",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000
