"""The HTML report's plots, each a function from computed results to one ``<svg>``.

Plots with numeric axes (parameter trends, importance, parallel coordinates, learning
curves) are drawn by matplotlib (:mod:`.charts`), which gets ticks and layout right; the
two colour grids (objective by window, interaction) are tables with colours and no axes,
written directly as SVG here.

Every plot has a stable id and its marks have classes (``trend-point``, ``pc-line``,
``heat-cell``, ``median-line``...) and hover titles, so the browser test can count them
and a reader can read exact values. Colours always mean the same thing: darker blue is
better for the objective's goal, red is the best configuration.

Large sweeps stay readable and the page stays small: the heatmap shows the leaderboard's
first rows only, and the parallel-coordinates view draws at most
:data:`MAX_PARALLEL_LINES` configurations (the best ones plus an even sample of the rest).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.ticker import LogLocator, MaxNLocator, PercentFormatter

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.summary import ConfigSummary, Goal, Summary
from tuningsweep.core.stats.trends import Interaction, ParameterTrend, Trends, adjusted_scores
from tuningsweep.reports.charts import BEST, MAIN, Mark, chart_svg, figure
from tuningsweep.reports.formatting import MISSING, fmt_param, fmt_rank, fmt_share, fmt_value
from tuningsweep.reports.svg import (
    CHAR_WIDTH,
    esc,
    goodness_color,
    num,
    slug,
    svg,
    text,
    text_color,
)

MAX_PARALLEL_LINES = 1000


def _oriented_goodness(value: float, low: float, high: float, goal: Goal) -> float:
    if high == low:
        return 1.0
    share = (value - low) / (high - low)
    return 1.0 - share if goal == "minimize" else share


def trend_plot(trend: ParameterTrend, metric: str) -> str:
    """Median of the objective per value of one parameter (bars: mean ± std), with counts."""
    levels = trend.levels
    element = f"trend-{slug(trend.name)}"
    labels = [fmt_param(lv.value) for lv in levels]
    rotate = sum(len(label) for label in labels) * CHAR_WIDTH > 300
    marks: dict[str, Mark] = {}
    with figure(max(3.6, 0.75 * len(levels) + 1.4), 2.9) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(levels)))
        if len(levels) > 1:
            ax.plot(xs, [lv.centre for lv in levels], color="#6baed6", linewidth=1.2, zorder=1)
        for x, lv in zip(xs, levels, strict=True):
            best = lv.value == trend.best_value
            gid = f"{element}-point-{x}"
            color = BEST if best else MAIN
            if lv.std is not None:
                ax.errorbar([x], [lv.mean], yerr=[lv.std], fmt="none", ecolor=color,
                            capsize=3, zorder=2)
            ax.plot([x], [lv.centre], "o", color=color, markersize=6, gid=gid, zorder=3)
            tip = (f"{trend.name}={labels[x]}: median {metric} {fmt_value(lv.centre)}, "
                   f"mean {fmt_value(lv.mean)}")
            tip += f" ± {fmt_value(lv.std, 2)}" if lv.std is not None else ""
            marks[gid] = Mark("trend-point best" if best else "trend-point",
                              f"{tip} over {lv.count} configurations")
        ax.set_xticks(xs, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.set_xlim(-0.5, len(levels) - 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(5))
        # The counts above the plot: how many configurations each point averages.
        top = ax.secondary_xaxis("top")
        top.set_xticks(xs, [f"n={lv.count}" for lv in levels])
        top.tick_params(length=0, labelsize=7.5, labelcolor="#666")
        ax.set_xlabel(f"{trend.name}{' (quantile bins)' if trend.binned else ''}",
                      fontweight="bold")
        ax.set_ylabel(f"median {metric}")
        return chart_svg(fig, element, "plot trend-plot", f"median {metric} by {trend.name}",
                         marks)


def importance_plot(trends: Trends) -> str:
    """Horizontal bars: share of variance explained by each parameter."""
    params = list(trends.parameters)
    marks: dict[str, Mark] = {}
    with figure(5.6, 0.32 * len(params) + 0.8) as fig:
        ax = fig.add_subplot()
        bars = ax.barh(range(len(params)), [p.importance for p in params], color=MAIN,
                       height=0.6)
        for i, (bar, p) in enumerate(zip(bars, params, strict=True)):
            bar.set_gid(f"importance-bar-{i}")
            marks[f"importance-bar-{i}"] = Mark("importance-bar",
                                                f"{p.name}: {fmt_share(p.importance)}")
        ax.bar_label(bars, [fmt_share(p.importance) for p in params], padding=3, fontsize=8)
        ax.set_yticks(range(len(params)), [p.name for p in params])
        ax.invert_yaxis()  # most important first, at the top
        ax.set_xlim(0, 1.08)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel("share of the variance of configuration means explained")
        ax.grid(axis="y", visible=False)
        return chart_svg(fig, "importance", "plot importance-plot", "parameter importance", marks)


def _heat_cell(x: float, y: float, w: float, h: float, goodness: float, label: str,
               tip: str) -> str:
    return (f'<rect class="heat-cell" x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" '
            f'fill="{goodness_color(goodness)}" stroke="#fff"><title>{esc(tip)}</title></rect>'
            + f'<text x="{num(x + w / 2)}" y="{num(y + h / 2 + 4)}" text-anchor="middle" '
              f'font-size="10" fill="{text_color(goodness)}">{esc(label)}</text>')


def _missing_cell(x: float, y: float, w: float, h: float, tip: str,
                  label: str = MISSING) -> str:
    return (f'<rect class="heat-missing" x="{num(x)}" y="{num(y)}" width="{num(w)}" '
            f'height="{num(h)}" fill="#eeeeee" stroke="#fff"><title>{esc(tip)}</title></rect>'
            + text(x + w / 2, y + h / 2 + 4, label, size=10))


def window_heatmap(summary: Summary, top: int,
                   failed: Mapping[tuple[str, str], str] | None = None) -> str:
    """Objective per configuration (rows) and window (columns), coloured by window rank.

    ``failed`` maps (configuration, window) to a failed trial's error: its cell says
    "failed" and shows the error on hover, instead of a bare gap.
    """
    configs = summary.configs[:top]
    windows = summary.windows
    field = {
        w: sum(1 for c in summary.configs if w in c.per_window) for w in windows
    }
    label_width = max([len(c.config) + (2 if not c.complete else 0) for c in configs] + [6]) * CHAR_WIDTH + 14
    cell_w, cell_h = 96.0, 22.0
    width = label_width + cell_w * max(1, len(windows)) + 10
    height = 30.0 + cell_h * len(configs) + 8
    parts = []
    for j, w in enumerate(windows):
        parts.append(text(label_width + cell_w * (j + 0.5), 20, w, weight="bold"))
    for i, c in enumerate(configs):
        y = 28 + i * cell_h
        name = c.config + (" *" if not c.complete else "")
        parts.append(text(label_width - 8, y + cell_h / 2 + 4, name, anchor="end",
                          weight="bold" if c.config == summary.best else ""))
        for j, w in enumerate(windows):
            x = label_width + j * cell_w
            if w not in c.per_window:
                error = (failed or {}).get((c.config, w))
                tip = f"{c.config} {w}: " + (f"failed: {error}" if error is not None
                                              else "no result")
                parts.append(_missing_cell(x, y, cell_w, cell_h, tip,
                                           "failed" if error is not None else MISSING))
                continue
            rank = c.ranks.get(w, 1.0)
            n = field[w]
            goodness = 1.0 if n <= 1 else 1.0 - (rank - 1.0) / (n - 1.0)
            value = c.per_window[w]
            tip = f"{c.config} {w}: {summary.metric} {fmt_value(value)}, rank {fmt_rank(rank)} of {n}"
            parts.append(_heat_cell(x, y, cell_w, cell_h, goodness,
                                    f"{fmt_value(value, 4)} #{fmt_rank(rank)}", tip))
    return svg("window-heatmap", "plot heatmap", width, height, "".join(parts),
               f"{summary.metric} by configuration and window")


def interaction_plot(interaction: Interaction, metric: str, goal: Goal) -> str:
    """Mean objective for each pair of levels of the two most important parameters."""
    a, b = interaction.params
    rows, columns = interaction.row_values, interaction.column_values
    values = [m for row in interaction.means for m in row if m is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    label_width = max([len(fmt_param(r)) for r in rows] + [len(a)]) * CHAR_WIDTH + 18
    cell_w = max(64.0, max([len(fmt_param(c)) for c in columns] + [4]) * CHAR_WIDTH + 12)
    cell_h = 24.0
    width = label_width + cell_w * len(columns) + 10
    height = 46.0 + cell_h * len(rows) + 8
    parts = [text(label_width + cell_w * len(columns) / 2, 14, b, weight="bold"),
             text(label_width - 8, 34, a, anchor="end", weight="bold")]
    for j, column in enumerate(columns):
        parts.append(text(label_width + cell_w * (j + 0.5), 34, fmt_param(column)))
    for i, row in enumerate(rows):
        y = 42 + i * cell_h
        parts.append(text(label_width - 8, y + cell_h / 2 + 4, fmt_param(row), anchor="end"))
        for j, column in enumerate(columns):
            x = label_width + j * cell_w
            mean = interaction.means[i][j]
            count = interaction.counts[i][j]
            if mean is None:
                parts.append(_missing_cell(x, y, cell_w, cell_h, f"{a}={row}, {b}={column}: none"))
                continue
            tip = f"{a}={fmt_param(row)}, {b}={fmt_param(column)}: mean {metric} {fmt_value(mean)} (n={count})"
            parts.append(_heat_cell(x, y, cell_w, cell_h, _oriented_goodness(mean, low, high, goal),
                                    fmt_value(mean, 4), tip))
    return svg("interaction", "plot heatmap interaction-plot", width, height, "".join(parts),
               f"mean {metric} by {a} and {b}")


def _numeric(values: Sequence[ParamValue]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _axis(trend: ParameterTrend, values: Sequence[ParamValue]
          ) -> tuple[list[float], list[tuple[float, str]]]:
    """Each configuration's height in [0, 1] on one parameter's axis, and the ticks."""
    if trend.binned and _numeric(values):
        floats = [float(v) for v in values]
        low, high = min(floats), max(floats)
        # A log axis only for positive values spread over decades *and* bunched at the
        # low end (a log-uniform learning rate), not for a uniform range touching zero.
        middle = sorted(floats)[len(floats) // 2]
        log = low > 0 and high / low >= 20 and (middle - low) < 0.25 * (high - low)
        f = (lambda v: math.log10(v)) if log else (lambda v: v)
        span = (f(high) - f(low)) or 1.0
        locator = LogLocator(numticks=5) if log else MaxNLocator(4)
        ticks = [t for t in locator.tick_values(low, high) if low <= t <= high] or [low, high]
        return ([(f(v) - f(low)) / span for v in floats],
                [((f(t) - f(low)) / span, f"{t:g}") for t in ticks])
    order = [lv.value for lv in trend.levels]
    index = {value: i for i, value in enumerate(order)}
    numeric = _numeric(values)
    heights = [(index.get(v if numeric else (v if isinstance(v, str) else str(v)), 0) + 0.5)
               / len(order) for v in values]
    return heights, [((i + 0.5) / len(order), fmt_param(v)) for i, v in enumerate(order)]


def _parallel_sample(configs: Sequence[ConfigSummary]) -> list[ConfigSummary]:
    if len(configs) <= MAX_PARALLEL_LINES:
        return list(configs)
    head = list(configs[:200])
    rest = configs[200:]
    room = MAX_PARALLEL_LINES - len(head)
    step = len(rest) / room
    return head + [rest[int(i * step)] for i in range(room)]


def parallel_coordinates(summary: Summary, trends: Trends) -> str:
    """One line per configuration across parameter axes and the objective axis.

    The configurations and scores of the trends (every configuration with a result,
    by its mean adjusted for the windows it ran: racing's eliminated ones included).
    """
    scores, adjusted = adjusted_scores(summary)
    pool = [c for c in summary.configs if c.config in scores]
    shown = _parallel_sample(pool)
    axes = [t for t in trends.parameters if all(t.name in c.params for c in shown)]
    columns = [_axis(t, [c.params[t.name] for c in shown]) for t in axes]
    means = [scores[c.config] for c in shown]
    low, high = min(means), max(means)
    span = (high - low) or 1.0
    # Best at the top of the objective axis, whichever the goal.
    def height(v: float) -> float:
        share = (v - low) / span
        return 1.0 - share if summary.goal == "minimize" else share
    ticks = [t for t in MaxNLocator(5).tick_values(low, high) if low <= t <= high] or [low]
    columns.append(([height(v) for v in means], [(height(t), f"{t:g}") for t in ticks]))
    every = all(c.complete for c in pool)
    names = [t.name for t in axes] + [
        f"{summary.metric} ({'mean' if every or not adjusted else 'adjusted mean'})"]
    ranked = sorted(range(len(shown)), key=lambda i: means[i],
                    reverse=summary.goal == "minimize")  # worst first, best drawn on top
    marks: dict[str, Mark] = {}
    with figure(max(5.6, 1.6 * len(names)), 3.6) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(names)))
        for position, i in enumerate(ranked):
            c = shown[i]
            goodness = (position + 1) / len(ranked)
            is_best = c.config == summary.best
            gid = f"pc-{i}"
            ax.plot(xs, [col[0][i] for col in columns], gid=gid,
                    color=BEST if is_best else goodness_color(0.15 + 0.85 * goodness),
                    linewidth=2.4 if is_best else 1.0,
                    alpha=1.0 if is_best else 0.35 + 0.5 * goodness, zorder=3 if is_best else 2)
            params = ", ".join(f"{t.name}={fmt_param(c.params[t.name])}" for t in axes)
            marks[gid] = Mark("pc-line pc-best" if is_best else "pc-line",
                              f"{c.config}: {params}; {summary.metric} {fmt_value(means[i])}")
        for x, (_, tick_list) in zip(xs, columns, strict=True):
            ax.axvline(x, color="#333", linewidth=1.0, zorder=1)
            for y, label in tick_list:
                ax.text(x + 0.04, y, label, fontsize=7.5, va="center", zorder=4,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6,
                              "alpha": 0.8})
        ax.set_xticks(xs, names, fontweight="bold")
        ax.xaxis.tick_top()
        ax.set_yticks([])
        ax.set_ylim(-0.04, 1.04)
        ax.set_xlim(-0.15, len(names) - 0.55)
        ax.grid(False)
        for side in ("left", "bottom", "top", "right"):
            ax.spines[side].set_visible(False)
        note = (f"{len(shown)} of {len(pool)} configurations drawn" if len(shown) < len(pool)
                else f"{len(shown)} configurations")
        ax.set_xlabel(f"{note}; best in red, darker = better")
        return chart_svg(fig, "parallel-coordinates", "plot parallel-plot",
                         "parallel coordinates of parameters and objective", marks)
