"""The HTML report's plots, each a function from computed results to one ``<svg>``.

Every plot has a stable id and its marks have classes (``trend-point``, ``pc-line``,
``heat-cell``, ``median-line``...), so the browser test can count them. Colours always
mean the same thing: darker blue is better for the objective's goal.

Large sweeps stay readable and the page stays small: the heatmap shows the leaderboard's
first rows only, and the parallel-coordinates view draws at most
:data:`MAX_PARALLEL_LINES` configurations (the best ones plus an even sample of the rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuningsweep.core.curves import Epochs, LearningCurves
from tuningsweep.core.results import ParamValue
from tuningsweep.core.summary import ConfigSummary, Goal, Summary
from tuningsweep.core.trends import Interaction, ParameterTrend, Trends
from tuningsweep.reports.formatting import MISSING, fmt_param, fmt_rank, fmt_share, fmt_value
from tuningsweep.reports.svg import (
    CHAR_WIDTH,
    LinearScale,
    esc,
    goodness_color,
    num,
    padded,
    polyline,
    slug,
    svg,
    text,
    text_color,
    tick_label,
    y_axis,
)

MAX_PARALLEL_LINES = 1000
_BEST_STROKE = "#d62728"


def _oriented_goodness(value: float, low: float, high: float, goal: Goal) -> float:
    if high == low:
        return 1.0
    share = (value - low) / (high - low)
    return 1.0 - share if goal == "minimize" else share


def trend_plot(trend: ParameterTrend, metric: str) -> str:
    """Mean ± std of the objective per value of one parameter, with counts."""
    levels = trend.levels
    width = max(300.0, 70.0 + 58.0 * len(levels))
    step = (width - 62.0 - 14.0) / max(1, len(levels))
    long_labels = any(len(fmt_param(lv.value)) * CHAR_WIDTH > step for lv in levels)
    # Rotated labels need room below the axis, in proportion to the longest one.
    drop = max(len(fmt_param(lv.value)) for lv in levels) * CHAR_WIDTH * 0.5 if long_labels else 0.0
    left, right, top, bottom = 62.0, 14.0, 28.0, 58.0 + drop
    height = 172.0 + bottom
    lows = [lv.mean - (lv.std or 0.0) for lv in levels]
    highs = [lv.mean + (lv.std or 0.0) for lv in levels]
    y = LinearScale(*padded(min(lows), max(highs)), height - bottom, top)
    xs = [left + step * (i + 0.5) for i in range(len(levels))]
    parts = [y_axis(y, left, label=f"mean {metric}", grid_to=width - right)]
    parts.append(f'<line class="axis" x1="{num(left)}" y1="{num(height - bottom)}" '
                 f'x2="{num(width - right)}" y2="{num(height - bottom)}" stroke="#555"/>')
    if len(levels) > 1:
        parts.append(polyline([(x, y(lv.mean)) for x, lv in zip(xs, levels, strict=True)],
                              cls="trend-line", stroke="#6baed6", width=1.2))
    for x, lv in zip(xs, levels, strict=True):
        best = lv.value == trend.best_value
        color = _BEST_STROKE if best else "#2171b5"
        if lv.std is not None:
            parts.append(f'<line class="trend-errorbar" x1="{num(x)}" y1="{num(y(lv.mean - lv.std))}" '
                         f'x2="{num(x)}" y2="{num(y(lv.mean + lv.std))}" stroke="{color}" '
                         'stroke-width="1.2"/>')
        tip = f"{trend.name}={fmt_param(lv.value)}: mean {fmt_value(lv.mean)}"
        tip += f" ± {fmt_value(lv.std, 2)}" if lv.std is not None else ""
        tip += f" over {lv.count} configurations"
        parts.append(f'<circle class="trend-point{" best" if best else ""}" cx="{num(x)}" '
                     f'cy="{num(y(lv.mean))}" r="4.5" fill="{color}"><title>{esc(tip)}</title></circle>')
        label_y = height - bottom + 14
        if long_labels:
            parts.append(text(x, label_y, fmt_param(lv.value), anchor="end", rotate=-30, size=10))
        else:
            parts.append(text(x, label_y, fmt_param(lv.value), size=10))
        parts.append(text(x, top - 8, f"n={lv.count}", size=9, cls="count"))
    binned = " (quantile bins)" if trend.binned else ""
    parts.append(text(width / 2, height - 6, f"{trend.name}{binned}", size=11, weight="bold"))
    return svg(f"trend-{slug(trend.name)}", "plot trend-plot", width, height, "".join(parts),
               f"mean {metric} by {trend.name}")


def importance_plot(trends: Trends) -> str:
    """Horizontal bars: share of variance explained by each parameter."""
    params = trends.parameters
    label_width = max([len(p.name) for p in params] + [4]) * CHAR_WIDTH + 16
    width, bar_height = 520.0, 22.0
    height = 24.0 + bar_height * len(params) + 24.0
    scale = LinearScale(0.0, 1.0, label_width, width - 60)
    parts = []
    for i, p in enumerate(params):
        y0 = 16 + i * bar_height
        parts.append(text(label_width - 8, y0 + 15, p.name, anchor="end"))
        w = scale(p.importance) - label_width
        parts.append(f'<rect class="importance-bar" x="{num(label_width)}" y="{num(y0 + 4)}" '
                     f'width="{num(max(w, 0.5))}" height="{num(bar_height - 8)}" fill="#2171b5">'
                     f'<title>{esc(p.name)}: {fmt_share(p.importance)}</title></rect>')
        parts.append(text(label_width + w + 6, y0 + 15, fmt_share(p.importance), anchor="start"))
    axis_y = 16 + bar_height * len(params) + 4
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(text(scale(tick), axis_y + 12, fmt_share(tick), size=9))
    return svg("importance", "plot importance-plot", width, height, "".join(parts),
               "parameter importance")


def _heat_cell(x: float, y: float, w: float, h: float, goodness: float, label: str,
               tip: str) -> str:
    return (f'<rect class="heat-cell" x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" '
            f'fill="{goodness_color(goodness)}" stroke="#fff"><title>{esc(tip)}</title></rect>'
            + f'<text x="{num(x + w / 2)}" y="{num(y + h / 2 + 4)}" text-anchor="middle" '
              f'font-size="10" fill="{text_color(goodness)}">{esc(label)}</text>')


def _missing_cell(x: float, y: float, w: float, h: float, tip: str) -> str:
    return (f'<rect class="heat-missing" x="{num(x)}" y="{num(y)}" width="{num(w)}" '
            f'height="{num(h)}" fill="#eeeeee" stroke="#fff"><title>{esc(tip)}</title></rect>'
            + text(x + w / 2, y + h / 2 + 4, MISSING, size=10))


def window_heatmap(summary: Summary, top: int) -> str:
    """Objective per configuration (rows) and window (columns), coloured by window rank."""
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
                parts.append(_missing_cell(x, y, cell_w, cell_h, f"{c.config} {w}: no result"))
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


def _axis_positions(trend: ParameterTrend, values: Sequence[ParamValue], top: float,
                    bottom: float) -> tuple[list[float], list[tuple[float, str]]]:
    """Pixel y of each configuration on one parameter's axis, and the axis' tick labels."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if trend.binned and numeric:
        floats = [float(v) for v in values]
        low, high = min(floats), max(floats)
        # A log axis only for positive values spread over decades *and* bunched at the
        # low end (a log-uniform learning rate), not for a uniform range touching zero.
        middle = sorted(floats)[len(floats) // 2]
        log = low > 0 and high / low >= 20 and (middle - low) < 0.25 * (high - low)
        scale = LinearScale(low, high, bottom, top, log=log)
        ticks = [(scale(t), tick_label(t)) for t in scale.ticks(4) if low <= t <= high]
        if not ticks:
            ticks = [(scale(low), tick_label(low)), (scale(high), tick_label(high))]
        return [scale(v) for v in floats], ticks
    order = [lv.value for lv in trend.levels]
    index = {value: i for i, value in enumerate(order)}
    span = bottom - top
    def where(i: int) -> float:
        return bottom - span * (i + 0.5) / len(order)
    positions = []
    for v in values:
        key: ParamValue = v if numeric else (v if isinstance(v, str) else str(v))
        positions.append(where(index.get(key, 0)))
    return positions, [(where(i), fmt_param(value)) for i, value in enumerate(order)]


def _parallel_sample(configs: Sequence[ConfigSummary]) -> list[ConfigSummary]:
    if len(configs) <= MAX_PARALLEL_LINES:
        return list(configs)
    head = list(configs[:200])
    rest = configs[200:]
    room = MAX_PARALLEL_LINES - len(head)
    step = len(rest) / room
    return head + [rest[int(i * step)] for i in range(room)]


def parallel_coordinates(summary: Summary, trends: Trends) -> str:
    """One line per configuration across parameter axes and the objective axis."""
    pool = [c for c in summary.configs if c.complete and c.mean is not None]
    if not pool:
        pool = [c for c in summary.configs if c.mean is not None]
    shown = _parallel_sample(pool)
    axes = [t for t in trends.parameters if all(t.name in c.params for c in shown)]
    n_axes = len(axes) + 1
    width = max(520.0, 150.0 * n_axes)
    height, top, bottom = 340.0, 40.0, 290.0
    xs = [60 + (width - 120) * i / max(1, n_axes - 1) for i in range(n_axes)]
    means = [c.mean for c in shown if c.mean is not None]
    low, high = min(means), max(means)
    # Best at the top of the objective axis, whichever the goal.
    objective = (LinearScale(low, high, top, bottom) if summary.goal == "minimize"
                 else LinearScale(low, high, bottom, top))
    columns: list[list[float]] = []
    tick_sets: list[list[tuple[float, str]]] = []
    for trend in axes:
        ys, ticks = _axis_positions(trend, [c.params[trend.name] for c in shown], top, bottom)
        columns.append(ys)
        tick_sets.append(ticks)
    columns.append([objective(c.mean or 0.0) for c in shown])
    tick_sets.append([(objective(t), tick_label(t)) for t in objective.ticks(5)
                      if min(low, high) <= t <= max(low, high)])
    ranked = sorted(range(len(shown)), key=lambda i: shown[i].mean or 0.0,
                    reverse=summary.goal == "minimize")  # worst first, best drawn on top
    parts = []
    for position, i in enumerate(ranked):
        c = shown[i]
        goodness = (position + 1) / len(ranked)
        is_best = c.config == summary.best
        params = ", ".join(f"{t.name}={fmt_param(c.params[t.name])}" for t in axes)
        parts.append(polyline(
            [(xs[k], columns[k][i]) for k in range(n_axes)],
            cls="pc-line pc-best" if is_best else "pc-line",
            stroke=_BEST_STROKE if is_best else goodness_color(0.15 + 0.85 * goodness),
            width=2.6 if is_best else 1.1,
            opacity=1.0 if is_best else 0.35 + 0.5 * goodness,
            title=f"{c.config}: {params}; {summary.metric} {fmt_value(c.mean)}",
        ))
    names = [t.name for t in axes] + [f"{summary.metric} (mean)"]
    for k, x in enumerate(xs):
        parts.append(f'<line class="pc-axis" x1="{num(x)}" y1="{num(top)}" x2="{num(x)}" '
                     f'y2="{num(bottom)}" stroke="#333" stroke-width="1.2"/>')
        parts.append(text(x, top - 16, names[k], weight="bold"))
        for y, label in tick_sets[k]:
            parts.append(f'<line x1="{num(x - 3)}" y1="{num(y)}" x2="{num(x + 3)}" y2="{num(y)}" stroke="#333"/>')
            parts.append(f'<text x="{num(x + 6)}" y="{num(y + 3.5)}" font-size="9" '
                         f'class="pc-tick" paint-order="stroke" stroke="#fff" stroke-width="3">'
                         f'{esc(label)}</text>')
    note = f"{len(shown)} of {len(pool)} configurations drawn" if len(shown) < len(pool) else (
        f"{len(shown)} configurations")
    parts.append(text(width / 2, height - 14, f"{note}; best in red, darker = better", size=10))
    return svg("parallel-coordinates", "plot parallel-plot", width, height, "".join(parts),
               "parallel coordinates of parameters and objective")


def learning_curve_plot(curves: LearningCurves, best_histories: Mapping[str, Epochs],
                        best: str | None) -> str:
    """Median and IQR of the validation metric per epoch; the best config's trials; convergence."""
    width, height = 640.0, 336.0
    left, right, top, bottom = 70.0, 20.0, 36.0, 50.0
    points = curves.points
    trial_lines = {
        trial: [(int(row["epoch"]), row[curves.metric]) for row in history if curves.metric in row]
        for trial, history in sorted(best_histories.items())
    }
    values = [p.q25 for p in points] + [p.q75 for p in points]
    values += [v for line in trial_lines.values() for _, v in line]
    epochs = [p.epoch for p in points] + [e for line in trial_lines.values() for e, _ in line]
    x = LinearScale(min(epochs), max(max(epochs), min(epochs) + 1), left, width - right)
    y = LinearScale(*padded(min(values), max(values)), height - bottom, top)
    parts = [y_axis(y, left, label=curves.metric, grid_to=width - right)]
    parts.append(f'<line class="axis" x1="{num(left)}" y1="{num(height - bottom)}" '
                 f'x2="{num(width - right)}" y2="{num(height - bottom)}" stroke="#555"/>')
    for tick in x.ticks(8):
        if float(tick).is_integer():
            parts.append(text(x(tick), height - bottom + 16, f"{int(tick)}", size=10))
    parts.append(text((left + width - right) / 2, height - 12, "epoch", size=11))
    band = [(x(p.epoch), y(p.q75)) for p in points] + [(x(p.epoch), y(p.q25)) for p in reversed(points)]
    parts.append(f'<polygon class="iqr-band" points="{" ".join(f"{num(a)},{num(b)}" for a, b in band)}" '
                 'fill="#9ecae1" fill-opacity="0.45" stroke="none"><title>interquartile range</title></polygon>')
    for trial, line in trial_lines.items():
        if line:
            parts.append(polyline([(x(e), y(v)) for e, v in line], cls="trial-line",
                                  stroke=_BEST_STROKE, width=1.0, opacity=0.6,
                                  title=f"{trial} (best configuration {best})"))
    parts.append(polyline([(x(p.epoch), y(p.median)) for p in points], cls="median-line",
                          stroke="#08306b", width=2.4, title=f"median {curves.metric}"))
    if curves.converged_epoch is not None:
        cx = x(curves.converged_epoch)
        parts.append(f'<line class="converged-marker" x1="{num(cx)}" y1="{num(top)}" x2="{num(cx)}" '
                     f'y2="{num(height - bottom)}" stroke="#31a354" stroke-dasharray="5 4" stroke-width="1.5"/>')
        # Label on the side of the marker with room for it (late epochs sit near the
        # right edge, where a left-anchored label would be clipped).
        right_half = cx > left + (width - left) / 2
        parts.append(text(cx - 4 if right_half else cx + 4, top + 12,
                          f"converged: epoch {curves.converged_epoch}",
                          anchor="end" if right_half else "start", size=10,
                          cls="converged-label"))
    legend = (f"median (dark) and interquartile range (band) over {curves.n_trials} trials"
              + (f"; red: trials of the best configuration {best}" if trial_lines else ""))
    parts.append(text(left, 16, legend, anchor="start", size=10))
    return svg("learning-curves", "plot curves-plot", width, height, "".join(parts),
               f"learning curves of {curves.metric}")

