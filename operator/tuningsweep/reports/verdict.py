"""The plain-language verdict: what the numbers say about the winner, in sentences.

Shared by the table and HTML renderers (and included in the JSON), so every format
gives the same judgement. It leads with consistency across windows, the project's
criterion, then the paired test against the runner-up, and says outright when there are
too few windows for any test to be conclusive rather than printing a p-value alone.
"""

from __future__ import annotations

from tuningsweep.core.significance import LOW_POWER_PAIRS
from tuningsweep.core.summary import ConfigSummary, Summary
from tuningsweep.reports.formatting import fmt_p, fmt_param, fmt_share, fmt_signed, fmt_value
from tuningsweep.reports.model import Report

SIGNIFICANCE_LEVEL = 0.05


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _mean_text(c: ConfigSummary) -> str:
    if c.std is None:
        return fmt_value(c.mean)
    return f"{fmt_value(c.mean)} ± {fmt_value(c.std, 2)}"


def _winner_sentences(summary: Summary) -> list[str]:
    n_windows = len(summary.windows)
    if summary.best is None:
        leader = next((c for c in summary.configs if c.mean is not None), None)
        text = (
            f"No configuration has a result for all {_plural(n_windows, 'window')} yet, "
            "so no winner can be declared."
        )
        if leader is not None:
            text += (
                f" Provisional leader: {leader.config} "
                f"({summary.metric} {fmt_value(leader.mean)} over {leader.n_windows} of "
                f"{n_windows})."
            )
        return [text]
    best = summary.config(summary.best)
    metric = summary.metric
    if best.wins_all_windows:
        lines = [
            f"{best.config} wins every window ({n_windows}/{n_windows}) and has the best "
            f"mean {metric}: {_mean_text(best)}."
        ]
    else:
        lines = [
            f"{best.config} has the best mean {metric} ({_mean_text(best)}) but wins "
            f"{best.windows_won} of {n_windows} windows, so its lead is not consistent "
            "across windows."
        ]
        # The first complete configuration (in leaderboard order) with the most wins.
        most = best
        for c in summary.configs:
            if c.complete and c.windows_won > most.windows_won:
                most = c
        if most.windows_won > best.windows_won:
            lines.append(f"{most.config} wins the most windows ({most.windows_won}/{n_windows}).")
    if n_windows == 1:
        lines.append(
            "The sweep has a single window: nothing can be said about consistency across "
            "windows, and no paired test is possible."
        )
        return lines
    comp = best.comparison
    if comp is None:
        lines.append("It is the only complete configuration: there is nothing to compare it with.")
        return lines
    ties = f", tied in {comp.ties}" if comp.ties else ""
    ci = ""
    if comp.ci_low is not None and comp.ci_high is not None:
        ci = f" (95% bootstrap interval {fmt_signed(comp.ci_low)} to {fmt_signed(comp.ci_high)})"
    lines.append(
        f"Against the runner-up {comp.reference}: better in {comp.wins} of {comp.n_pairs} "
        f"windows (worse in {comp.losses}{ties}); sign test p = {fmt_p(comp.sign_test_p)}, "
        f"Wilcoxon p = {fmt_p(comp.wilcoxon_p)}; mean difference "
        f"{fmt_signed(comp.mean_difference)}{ci}."
    )
    if comp.low_power:
        lines.append(
            f"With {_plural(comp.n_nonzero, 'differing window')} no two-sided test can give "
            f"p below {fmt_p(comp.min_attainable_p)}, so this cannot show significance: add "
            f"windows ({LOW_POWER_PAIRS} or more are needed for p < 0.05)."
        )
    elif comp.sign_test_p < SIGNIFICANCE_LEVEL:
        lines.append(
            "The lead over the runner-up is significant at the 5% level (not corrected for "
            "having picked the best of many configurations)."
        )
    else:
        lines.append("The lead over the runner-up is not significant at the 5% level.")
    return lines


def _bookkeeping_sentences(summary: Summary) -> list[str]:
    lines: list[str] = []
    incomplete = sum(1 for c in summary.configs if not c.complete)
    if incomplete:
        lines.append(
            f"{_plural(incomplete, 'configuration')} "
            f"{'is' if incomplete == 1 else 'are'} incomplete (missing windows): shown after "
            "the complete ones and never ranked as best."
        )
    if summary.n_failed:
        lines.append(
            f"{_plural(summary.n_failed, 'trial')} failed and "
            f"{'is' if summary.n_failed == 1 else 'are'} excluded from the statistics."
        )
    if summary.n_missing_objective:
        lines.append(
            f"{_plural(summary.n_missing_objective, 'succeeded trial')} recorded no "
            f"{summary.metric} and {'is' if summary.n_missing_objective == 1 else 'are'} excluded."
        )
    return lines


def _trend_sentences(report: Report) -> list[str]:
    important = [p for p in report.trends.parameters if p.importance > 0 and len(p.levels) > 1]
    if not important:
        return []
    top = important[0]
    text = (
        f"{top.name} matters most: it explains {fmt_share(top.importance)} of the variance "
        "between configurations' means"
    )
    if top.best_value is not None:
        text += f" (best value {fmt_param(top.best_value)})"
    if len(important) > 1:
        second = important[1]
        text += f"; then {second.name} ({fmt_share(second.importance)})"
    return [text + "."]


def _curve_sentences(report: Report) -> list[str]:
    curves = report.curves
    if curves is None:
        return ["No learning curves: no trial history (history.json) was found."]
    last = curves.points[-1].epoch
    if curves.converged_epoch is None:
        return []
    return [
        f"The median {curves.metric} over {_plural(curves.n_trials, 'trial')} stops "
        f"improving meaningfully at epoch {curves.converged_epoch} (of {last})."
    ]


def verdict(report: Report) -> list[str]:
    """The verdict as sentences: winner, its test, bookkeeping, trends, convergence."""
    summary = report.summary
    if not summary.configs:
        return ["No trials have finished yet."]
    return [
        *_winner_sentences(summary),
        *_bookkeeping_sentences(summary),
        *_trend_sentences(report),
        *_curve_sentences(report),
    ]
