"""``report --format html``: one self-contained page with the leaderboard and plots.

Self-contained means a user can mail the file or open it on an air-gapped machine: the
styles are inline, the plots are inline SVG (see :mod:`tuningsweep.reports.plots`), and
there is no script, font, image or link that needs the network. The sections: verdict,
leaderboard (first ``top`` rows), objective-by-window heatmap, parameter importance and
trends, interaction, parallel coordinates, learning curves, and a short guide to
reading the statistics.
"""

from __future__ import annotations

from tuningsweep.core.stats.baseline import BaselineComparison
from tuningsweep.core.stats.summary import ConfigSummary, Summary
from tuningsweep.reports.baseline_text import HEADER, fmt_improvement
from tuningsweep.reports.curve_plot import learning_curve_plot
from tuningsweep.reports.formatting import (
    basis_text,
    fmt_p,
    fmt_param,
    fmt_rank,
    fmt_signed,
    fmt_value,
)
from tuningsweep.reports.model import Report
from tuningsweep.reports.plots import (
    importance_plot,
    interaction_plot,
    parallel_coordinates,
    trend_plot,
    window_heatmap,
)
from tuningsweep.reports.svg import esc, goodness_color, text_color
from tuningsweep.reports.verdict import verdict

DEFAULT_HTML_TOP = 50

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto;
       max-width: 1280px; padding: 0 16px; color: #1a1a1a; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin-top: 0; }
.verdict li { margin: 4px 0; line-height: 1.4; }
.scroll { overflow-x: auto; }
table.leaderboard { border-collapse: collapse; font-size: 13px; white-space: nowrap; }
table.leaderboard th, table.leaderboard td { padding: 4px 6px; border-bottom: 1px solid #eee;
     text-align: right; }
table.leaderboard th { background: #f5f5f5; position: sticky; top: 0; white-space: normal;
     vertical-align: bottom; }
table.leaderboard td.name, table.leaderboard th.name { text-align: left; }
table.leaderboard td.name { white-space: normal; min-width: 90px; }
table.leaderboard td small.ci { display: block; }
tr.best td { font-weight: 600; } table.leaderboard td.worse { color: #b2182b; } tr.incomplete td { color: #888; }
.tag { font-size: 11px; padding: 1px 5px; border-radius: 8px; background: #eee; color: #555;
       font-weight: normal; margin-left: 4px; white-space: nowrap; }
.tag.best { background: #d62728; color: #fff; } .tag.all { background: #31a354; color: #fff; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
svg.plot { background: #fff; border: 1px solid #eee; border-radius: 4px; font-family: inherit; }
.note { color: #666; font-size: 13px; }
td.error { text-align: left; white-space: pre-wrap; font-family: monospace; font-size: 12px;
           max-width: 900px; }
.guide p { max-width: 900px; line-height: 1.45; font-size: 14px; }
"""


def _leaderboard(summary: Summary, top: int,
                 baseline: BaselineComparison | None = None) -> str:
    windows = summary.windows
    head = ["#", "config", *summary.param_names, *windows, "mean ± std", "won",
            "Δ vs best [95% CI]", "p vs best (corrected)"]
    if baseline is not None:
        head.append(f"{HEADER} (+ better)")
    name_cols = {1}
    # Headers wrap (a parameter's name after its underscores) and the interval goes under
    # its difference: every column, p-values included, fits 1,280 px (issue 22).
    header = "".join(
        f'<th class="name">{_breakable(h)}</th>' if i in name_cols else
        f"<th>{_breakable(h)}</th>" for i, h in enumerate(head)
    )
    field = {w: sum(1 for c in summary.configs if w in c.per_window) for w in windows}
    body = [_leaderboard_row(summary, c, i, field, baseline)
            for i, c in enumerate(summary.configs[:top], 1)]
    more = len(summary.configs) - top
    tail = (f'<p class="note">… {more} more configurations; the JSON report and summary.csv '
            "hold all of them.</p>" if more > 0 else "")
    return (f'<div class="scroll"><table class="leaderboard" id="leaderboard-table">'
            f"<thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{tail}")


def _breakable(text: str) -> str:
    """``text`` escaped, with a line-break opportunity after each underscore."""
    return "_<wbr>".join(esc(part) for part in text.split("_"))


def _leaderboard_row(summary: Summary, c: ConfigSummary, position: int,
                     field: dict[str, int], baseline: BaselineComparison | None = None) -> str:
    classes = ["best"] if c.config == summary.best else []
    if not c.complete:
        classes.append("incomplete")
    tags = ""
    if c.config == summary.best:
        tags += '<span class="tag best">best</span>'
    if c.wins_all_windows:
        tags += '<span class="tag all">wins all windows</span>'
    if c.eliminated_at is not None:
        tags += (f'<span class="tag" title="{esc(c.elimination_reason or "")}">'
                 f"eliminated at {esc(c.eliminated_at)}</span>")
    elif not c.complete:
        tags += '<span class="tag">incomplete</span>'
    cells = [f"<td>{position if c.complete else '&ndash;'}</td>",
             f'<td class="name">{esc(c.config)}{tags}</td>']
    cells += [f"<td>{esc(fmt_param(c.params.get(p)))}</td>" for p in summary.param_names]
    for w in summary.windows:
        if w not in c.per_window:
            cells.append('<td class="missing">&ndash;</td>')
            continue
        rank = c.ranks.get(w, 1.0)
        n = field[w]
        goodness = 1.0 if n <= 1 else 1.0 - (rank - 1.0) / (n - 1.0)
        cells.append(
            f'<td style="background:{goodness_color(goodness)};color:{text_color(goodness)}" '
            f'title="rank {fmt_rank(rank)} of {n}">{fmt_value(c.per_window[w])} '
            f"<small>#{fmt_rank(rank)}</small></td>"
        )
    std = f' <small class="ci">± {fmt_value(c.std, 2)}</small>' if c.std is not None else ""
    cells.append(f"<td>{fmt_value(c.mean)}{std}</td>")
    cells.append(f"<td>{c.windows_won}/{len(summary.windows)}</td>")
    comp = c.comparison
    if comp is None:
        cells += ["<td>&ndash;</td>", "<td>&ndash;</td>"]
    else:
        interval = " <small>(1 window: no interval)</small>"
        if comp.ci_low is not None and comp.ci_high is not None:
            interval = (f' <small class="ci">[{fmt_signed(comp.ci_low)}, '
                        f"{fmt_signed(comp.ci_high)}]</small>")
        against = f" <small>vs {esc(comp.reference)}</small>" if c.config == summary.best else ""
        cells.append(f"<td>{fmt_signed(comp.mean_difference)}{interval}{against}</td>")
        title = (f"unadjusted p={fmt_p(comp.p_unadjusted)}, sign test p={fmt_p(comp.sign_test_p)}, "
                 f"Wilcoxon p={fmt_p(comp.wilcoxon_p)}, {comp.wins} better / {comp.losses} "
                 f"worse / {comp.ties} tied of {comp.n_pairs} windows")
        mark = " <b>*</b>" if comp.significant else ""
        cells.append(f'<td title="{esc(title)}">{fmt_p(comp.p_value)}{mark}</td>')
    if baseline is not None:
        versus = baseline.configs.get(c.config)
        worse = ' class="worse"' if versus is not None and not versus.better else ""
        cells.append(f"<td{worse}>{esc(fmt_improvement(versus))}</td>")
    return f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>'


_GUIDE = """
<p><b>Windows.</b> Every configuration is trained on the same date windows (w0 is the most
recent). A configuration that is best in every window (<i>wins all windows</i>) is more
likely to stay best on new data than one whose mean is pulled up by one lucky window.</p>
<p><b>Δ vs best.</b> The difference to the best configuration, paired window by window
over the windows both finished (a hard month shifts both and cancels), with its 95%
t-interval: it contains the true difference 95% of the time (none with a single common
window). For the best itself: the difference to its closest contender.</p>
<p><b>p vs best.</b> The p-value of the test that decides whether a configuration is
worse than the best (marked *): the paired mean difference against the noise of the whole
sweep, corrected for comparing every pair of configurations, because the best was picked
from the same data. A sweep makes a wrong "worse than the best" claim at most 5% of the
time. For the best, the p-value at which it beats every other configuration. Hover for the
unadjusted, sign-test and Wilcoxon p-values. <b>Incomplete</b> configurations miss at
least one window (failed or not run yet): they are listed after the complete ones and
never chosen as best. <b>Importance</b> is the share of the variance of the
configurations' mean objective explained by one parameter alone.</p>
"""


def _failures(report: Report, top: int) -> str:
    """The failed trials with their errors, whole (they are why a result is missing)."""
    rows = "".join(f"<tr><td class=\"name\">{esc(f.trial)}</td><td>{esc(f.window)}</td>"
                   f'<td class="error">{esc(f.error)}</td></tr>' for f in report.failures[:top])
    more = len(report.failures) - top
    tail = (f'<p class="note">… {more} more; the JSON report lists all of them.</p>'
            if more > 0 else "")
    return (f'<section id="failures"><h2>Failed trials ({len(report.failures)})</h2>'
            '<div class="scroll"><table class="leaderboard" id="failures-table"><thead><tr>'
            '<th class="name">trial</th><th>window</th><th class="name">error</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>{tail}</section>")


def render_html(report: Report, *, top: int = DEFAULT_HTML_TOP) -> str:
    """Render the report as one self-contained HTML page."""
    s = report.summary
    title = f"tuningsweep report: {s.metric} ({s.goal})"
    sections: list[str] = []
    sections.append('<section id="verdict"><h2>Verdict</h2><ul class="verdict">'
                    + "".join(f"<li>{esc(line)}</li>" for line in verdict(report))
                    + "".join(f'<li class="note">note: {esc(n)}</li>' for n in report.notes)
                    + "</ul></section>")
    failed = {(f.config, f.window): f.error for f in report.failures}
    if s.configs:
        sections.append(f'<section id="leaderboard"><h2>Leaderboard</h2>{_leaderboard(s, top, report.baseline)}</section>')
        sections.append('<section id="heatmap"><h2>Objective by window</h2>'
                        '<p class="note">Colour is the rank within each window (darker is better); '
                        '* marks incomplete configurations.</p>'
                        f"{window_heatmap(s, top, failed)}</section>")
    if report.failures:
        sections.append(_failures(report, top))
    trends = report.trends
    if trends.parameters:
        plots = "".join(trend_plot(t, s.metric) for t in trends.parameters)
        sections.append(
            '<section id="trends"><h2>Parameters</h2>'
            f'<p class="note">Over {trends.n_configs} {esc(basis_text(trends))}: importance '
            "is the share of the variance of the configurations' ranks explained by each "
            "parameter; points are the median per value (bars: mean ± std), the best "
            "median in red.</p>"
            f'{importance_plot(trends)}<div class="plots">{plots}</div></section>'
        )
        if trends.interaction is not None:
            a, b = trends.interaction.params
            sections.append(
                f'<section id="interactions"><h2>Interaction: {esc(a)} &times; {esc(b)}</h2>'
                f"{interaction_plot(trends.interaction, s.metric, s.goal)}</section>"
            )
    if any(c.mean is not None for c in s.configs):
        sections.append('<section id="parallel"><h2>Parallel coordinates</h2>'
                        f"{parallel_coordinates(s, trends)}</section>")
    if report.curves is not None:
        curves = learning_curve_plot(report.curves, report.best_histories, s.best,
                                     report.best_windows)
    else:
        curves = '<p class="note" id="no-curves">No learning curves: no trial history was found.</p>'
    sections.append(f'<section id="curves"><h2>Learning curves</h2>{curves}</section>')
    sections.append(f'<section id="guide" class="guide"><h2>How to read this</h2>{_GUIDE}</section>')
    meta = (f"{esc(report.source)} · {len(s.configs)} configurations ({s.n_complete} complete) · "
            f"{s.n_trials} trials ({s.n_failed} failed, {s.n_stopped} stopped early) · windows {esc(', '.join(s.windows) or 'none')}")
    if report.time.text():
        meta += f" · {esc(report.time.text())}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=\"meta\">{meta}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )
