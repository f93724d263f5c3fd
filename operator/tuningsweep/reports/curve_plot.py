"""The learning-curve plot: one panel per window, each on its own scale (matplotlib).

A trial is compared only with trials of its own window (windows' levels differ several
fold; see :mod:`tuningsweep.core.stats.curves`), so each window gets its panel: the median and
interquartile band of its trials, the best configuration's trial in that window, and
the epoch where that window's median converges. One window: one panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from tuningsweep.core.stats.curves import Epochs, LearningCurves
from tuningsweep.reports.charts import BEST, DARK, Mark, chart_svg, figure

CURVE_PANELS_PER_ROW = 3


def _curve_panel(ax: Axes, points: Sequence[tuple[int, float, float, float]], metric: str,
                 converged: int | None, lines: Mapping[str, list[tuple[int, float]]],
                 prefix: str, marks: dict[str, Mark], title: str) -> None:
    """One panel: median and IQR band, the best configuration's trials, convergence."""
    epochs = [p[0] for p in points]
    band = ax.fill_between(epochs, [p[2] for p in points], [p[3] for p in points],
                           color="#9ecae1", alpha=0.45, linewidth=0, gid=f"{prefix}-band")
    del band
    marks[f"{prefix}-band"] = Mark("iqr-band", "interquartile range over trials")
    for k, (trial, line) in enumerate(sorted(lines.items())):
        ax.plot([e for e, _ in line], [v for _, v in line], color=BEST, linewidth=1.0,
                alpha=0.7, gid=f"{prefix}-trial-{k}")
        marks[f"{prefix}-trial-{k}"] = Mark("trial-line", f"{trial} (best configuration)")
    ax.plot(epochs, [p[1] for p in points], color=DARK, linewidth=2.2, gid=f"{prefix}-median")
    marks[f"{prefix}-median"] = Mark("median-line", f"median {metric}")
    if converged is not None:
        ax.axvline(converged, color="#31a354", linestyle="--", linewidth=1.4,
                   gid=f"{prefix}-converged")
        marks[f"{prefix}-converged"] = Mark("converged-marker",
                                            f"converged: epoch {converged}")
        ax.annotate(f"converged: epoch {converged}", (converged, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(-4, -4),
                    textcoords="offset points", ha="right", va="top", fontsize=7.5,
                    color="#31a354")
    ax.xaxis.set_major_locator(MaxNLocator(8, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    if len(set(epochs)) == 1:
        # One epoch: a line of one point is invisible, and MaxNLocator falls back to
        # fractional epochs (0.945..1.05) when no two integers are in view.
        only = epochs[0]
        ax.plot(epochs, [p[1] for p in points], "o", color=DARK, markersize=4,
                gid=f"{prefix}-median-point")
        ax.errorbar(epochs, [p[1] for p in points],
                    yerr=[[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]],
                    fmt="none", ecolor="#9ecae1", elinewidth=6, alpha=0.8)
        ax.set_xlim(only - 1, only + 1)
        ax.set_xticks([only])
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=9)


def learning_curve_plot(curves: LearningCurves, best_histories: Mapping[str, Epochs],
                        best: str | None, window_of: Mapping[str, str] | None = None) -> str:
    """Median and IQR of the validation metric per epoch; the best config's trials; convergence.

    With several windows, one panel per window on its own scale: a trial is compared
    only with trials of its window (windows' levels differ; see core.curves).
    """
    metric = curves.metric
    lines = {trial: [(int(row["epoch"]), row[metric]) for row in history if metric in row]
             for trial, history in best_histories.items()}
    lines = {t: line for t, line in lines.items() if line}
    marks: dict[str, Mark] = {}
    panels = [(w.window, w.curves) for w in curves.windows] or [("", curves)]
    columns = min(CURVE_PANELS_PER_ROW, len(panels))
    rows = -(-len(panels) // columns)
    with figure(2.4 + 2.6 * columns, 0.4 + 2.6 * rows) as fig:
        grid = fig.subplots(rows, columns, squeeze=False)
        for k, (window, own) in enumerate(panels):
            ax = grid[k // columns][k % columns]
            mine = {t: line for t, line in lines.items()
                    if not window or (window_of or {}).get(t) == window}
            title = (f"{window}: {own.n_trials} trials" if window
                     else f"{own.n_trials} trials")
            _curve_panel(ax, [(p.epoch, p.median, p.q25, p.q75) for p in own.points], metric,
                         own.converged_epoch, mine, f"curve-{k}", marks, title)
            if k % columns == 0:
                ax.set_ylabel(metric)
        for k in range(len(panels), rows * columns):
            grid[k // columns][k % columns].set_visible(False)
        legend = "median (dark) and interquartile range (band)"
        if lines:
            legend += f"; red: trials of the best configuration {best}"
        if len(panels) > 1:
            legend += "; each window on its own scale"
        fig.suptitle(legend, fontsize=8.5, color="#444")
        return chart_svg(fig, "learning-curves", "plot curves-plot",
                         f"learning curves of {metric}", marks)
