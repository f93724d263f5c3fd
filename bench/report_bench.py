"""How long does ``tuningsweep report`` take on a large sweep?

Generates a results.csv of 100,000 trials (20,000 configurations x 5 windows, four
parameters, about 1% failed trials, model URIs whose histories do not exist) and times,
end to end through :func:`tuningsweep.reports.report_command`:

* ``report --format json``, ``--format table`` and ``--format html``; and
* the summary alone: ``parse_csv`` + ``summarize`` + ``summary_csv``, which the local
  runner and the operator run after every flush (the target there is well under a
  second for 10,000 rows; it is timed for both sizes).

Each figure is the median of ``--repeat`` runs. The target for the reports is "seconds".

Usage::

    python bench/report_bench.py [--configs 20000] [--windows 5] [--repeat 3]

Writes the figures to ``bench/out/report.json`` (and prints them); exits 1 when a target
is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import write  # noqa: E402
from tests.report.synthetic import large_sweep  # noqa: E402

from tuningsweep.core.records.results import parse_csv, render_csv  # noqa: E402
from tuningsweep.core.stats.summary import summarize, summary_csv  # noqa: E402
from tuningsweep.reports import report_command  # noqa: E402

TARGET_REPORT_S = 10.0
TARGET_SUMMARY_10K_S = 1.0


def timed(repeat: int, action: Callable[[], object]) -> float:
    """Median wall time of ``repeat`` runs of ``action``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def summary_seconds(text: str, repeat: int) -> float:
    def run() -> None:
        summary_csv(summarize(parse_csv(text), "val_mse", "minimize"))

    return timed(repeat, run)


def report_seconds(folder: Path, fmt: str, out: Path, repeat: int) -> float:
    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            code = report_command(str(folder), fmt, str(out), None, None)
        if code != 0:
            raise SystemExit(f"report --format {fmt} failed with exit code {code}")

    return timed(repeat, run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=20_000)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        folder = Path(tmp)
        rows = large_sweep(args.configs, args.windows)
        text = render_csv(rows)
        (folder / "results.csv").write_text(text)
        (folder / "resolved-spec.yaml").write_text(
            "spec:\n  objective: {metric: val_mse, goal: minimize}\n")
        small = render_csv(large_sweep(2_000, 5))
        figures: dict[str, float | int | str | bool] = {
            "rows": len(rows),
            "configs": args.configs,
            "windows": args.windows,
            "csv_megabytes": round(len(text.encode()) / 1e6, 1),
            "summary_10k_rows_s": summary_seconds(small, args.repeat),
            "summary_s": summary_seconds(text, args.repeat),
        }
        for fmt in ("json", "table", "html"):
            target = folder / f"report.{fmt}"
            figures[f"report_{fmt}_s"] = report_seconds(folder, fmt, target, args.repeat)
            figures[f"report_{fmt}_megabytes"] = round(target.stat().st_size / 1e6, 2)
    slowest = max(float(figures[f"report_{f}_s"]) for f in ("json", "table", "html"))
    figures["meets_target"] = (slowest <= TARGET_REPORT_S
                               and float(figures["summary_10k_rows_s"]) <= TARGET_SUMMARY_10K_S)
    figures["target"] = (f"each report <= {TARGET_REPORT_S:g} s for {len(rows):,} rows; "
                         f"summary <= {TARGET_SUMMARY_10K_S:g} s for 10,000 rows")
    write("report", {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
    return 0 if figures["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
