"""The plain-language verdict: what the numbers say about the winner, in sentences.

Shared by the table and HTML renderers (and included in the JSON), so every format
gives the same judgement. It leads with consistency across windows, the project's
criterion, then the paired comparison with the closest contender and the corrected test
(:mod:`tuningsweep.core.stats.comparisons`), and says outright when no test is possible
rather than printing a p-value alone.

It never picks one of several equals: configurations tied for the most windows won, or
for the best mean, are named together. Failures are named with their errors: "2 trials
failed" alone leaves a user nowhere, and when every trial failed the errors are the
only thing there is to report.
"""

from __future__ import annotations

import math

from tuningsweep.core.planning.outcomes import first_line
from tuningsweep.core.stats.summary import Comparison, ConfigSummary, Summary
from tuningsweep.reports.baseline_text import baseline_sentences
from tuningsweep.reports.formatting import fmt_p, fmt_param, fmt_share, fmt_signed, fmt_value
from tuningsweep.reports.model import Report, TrialFailure

#: Failed trials named in a verdict sentence (every one is in the failures table).
FAILURES_SHOWN = 3
#: A failure's error is its first line in a sentence (whole in the table and JSON), cut
#: only past this length: a message cut in its middle hid the column to fix (issue 22).
ERROR_CHARS = 400


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _mean_text(c: ConfigSummary) -> str:
    if c.std is None:
        return fmt_value(c.mean)
    return f"{fmt_value(c.mean)} ± {fmt_value(c.std, 2)}"


def _names(configs: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return configs[0] if len(configs) == 1 else f"{', '.join(configs[:-1])} and {configs[-1]}"


def _failure_text(failures: tuple[TrialFailure, ...], shown: int = FAILURES_SHOWN) -> str:
    listed = "; ".join(f"{f.trial}: {_cut(f.error)}" for f in failures[:shown])
    more = f"; and {len(failures) - shown} more" if len(failures) > shown else ""
    return listed + more


def _cut(error: str) -> str:
    line = first_line(error) or error
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS - 1] + "…"


def _most_windows_sentence(summary: Summary, best: ConfigSummary) -> list[str]:
    """Who wins the most windows, naming every configuration tied for it."""
    n_windows = len(summary.windows)
    complete = [c for c in summary.configs if c.complete]
    most = max((c.windows_won for c in complete), default=0)
    leaders = [c.config for c in complete if c.windows_won == most]
    if most == 0:
        return []
    if len(leaders) > 1:
        return [f"{_names(leaders)} tie for the most windows won ({most} of {n_windows} "
                "each): no configuration wins consistently."]
    if leaders[0] != best.config:
        return [f"{leaders[0]} wins the most windows ({most}/{n_windows})."]
    return []


def _same_mean_sentence(summary: Summary, best: ConfigSummary) -> list[str]:
    """Configurations whose mean equals the best's: the order among them is arbitrary."""
    same = [c.config for c in summary.configs if c.complete and c.config != best.config
            and c.mean is not None and best.mean is not None
            and math.isclose(c.mean, best.mean, rel_tol=1e-12, abs_tol=1e-15)]
    if not same:
        return []
    return [f"{_names(same)} {'has' if len(same) == 1 else 'have'} the same mean "
            f"{summary.metric} as {best.config}: they tie, and the order between them is "
            "arbitrary."]


def _winner_sentences(summary: Summary, failures: tuple[TrialFailure, ...]) -> list[str]:
    n_windows = len(summary.windows)
    if summary.best is None and failures and not any(
            c.mean is not None for c in summary.configs):
        return [f"All {_plural(len(failures), 'trial')} failed, so there is no result to "
                f"compare: {_failure_text(failures)}."]
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
            "across windows.",
            *_most_windows_sentence(summary, best),
        ]
    lines += _same_mean_sentence(summary, best)
    if n_windows == 1:
        lines.append(
            "The sweep has a single window: nothing can be said about consistency across "
            "windows, and no paired test is possible."
        )
        return lines
    comp = best.comparison
    if comp is None:
        lines.append("It is the only configuration with results: there is nothing to compare it with.")
        return lines
    return lines + _test_sentences(summary, comp)


def _test_sentences(summary: Summary, comp: Comparison) -> list[str]:
    """The best against its closest contender, and what the corrected test allows."""
    ties = f", tied in {comp.ties}" if comp.ties else ""
    ci = ""
    if comp.ci_low is not None and comp.ci_high is not None:
        ci = f" (95% interval {fmt_signed(comp.ci_low)} to {fmt_signed(comp.ci_high)})"
    lines = [
        f"Against its closest contender {comp.reference}: better in {comp.wins} of "
        f"{_plural(comp.n_pairs, 'common window')} (worse in {comp.losses}{ties}); mean "
        f"difference {fmt_signed(comp.mean_difference)}{ci}."
    ]
    test = summary.test
    if test is None or comp.p_value is None:
        lines.append(
            "There are too few results to estimate the noise between windows, so no test "
            "is possible: add windows or configurations."
        )
        return lines
    others = [c for c in summary.configs if c.comparison is not None and c.config != summary.best]
    claimed = sum(1 for c in others if c.comparison is not None and c.comparison.significant)
    correction = (f"corrected for the {test.n_hypotheses} pairs of configurations it could "
                  "have been compared in")
    if comp.significant:
        lines.append(
            f"It is significantly better than every other configuration at the 5% level "
            f"(p = {fmt_p(comp.p_value)}, {correction})."
        )
    else:
        lines.append(
            f"It is not significantly better than {comp.reference} at the 5% level "
            f"(p = {fmt_p(comp.p_value)}, {correction}); "
            f"{claimed} of {_plural(len(others), 'other configuration')} "
            f"{'is' if claimed == 1 else 'are'} significantly worse than it."
        )
    if not comp.significant and comp.ci_low is not None and comp.ci_high is not None and (
            comp.ci_low > 0 or comp.ci_high < 0):
        lines.append(
            "Its 95% interval excludes 0, but that interval is for this one pair; the "
            "claim has to hold for the best picked out of all configurations."
        )
    return lines


def _bookkeeping_sentences(summary: Summary, failures: tuple[TrialFailure, ...]) -> list[str]:
    lines: list[str] = []
    eliminated = [c for c in summary.configs if c.eliminated_at is not None]
    if eliminated:
        lines.append(
            f"{summary.n_alive} of {_plural(len(summary.configs), 'configuration')} "
            f"{'is' if summary.n_alive == 1 else 'are'} alive; racing eliminated "
            f"{len(eliminated)}, which keep their results."
        )
    incomplete = sum(1 for c in summary.configs if not c.complete and c.eliminated_at is None)
    if incomplete:
        lines.append(
            f"{_plural(incomplete, 'configuration')} "
            f"{'is' if incomplete == 1 else 'are'} incomplete (missing windows): shown after "
            "the complete ones and never ranked as best."
        )
    if summary.n_failed and any(c.mean is not None for c in summary.configs):
        why = f": {_failure_text(failures)}" if failures else ""
        lines.append(
            f"{_plural(summary.n_failed, 'trial')} failed and "
            f"{'is' if summary.n_failed == 1 else 'are'} excluded from the statistics{why}."
        )
    if summary.n_missing_objective:
        lines.append(
            f"{_plural(summary.n_missing_objective, 'succeeded trial')} recorded no "
            f"{summary.metric} and {'is' if summary.n_missing_objective == 1 else 'are'} excluded."
        )
    return lines


#: Flagged trials named in a verdict sentence (every one is in the JSON).
OUTLIERS_SHOWN = 3


def _model_sentences(summary: Summary) -> list[str]:
    """The comparisons' scale, the trials left out of them, and failed model checks."""
    test = summary.test
    if test is None:
        return []
    lines: list[str] = []
    if test.scale == "log":
        lines.append(f"Configurations are compared on the log scale: {test.scale_reason}.")
    if test.outliers:
        named = "; ".join(
            f"{t.config} on {t.window} ({summary.metric} {fmt_value(t.value)}, "
            + (f"{t.ratio:.0f}x the window's median)" if t.ratio is not None else
               f"where the others predict {fmt_value(t.expected)})")
            for t in test.outliers[:OUTLIERS_SHOWN])
        more = len(test.outliers) - OUTLIERS_SHOWN
        lines.append(
            f"{_plural(len(test.outliers), 'trial')} diverged or broke: {named}"
            f"{f'; and {more} more' if more > 0 else ''}. "
            f"{'It is' if len(test.outliers) == 1 else 'They are'} left out of the noise "
            "estimate and of every comparison (so one bad trial cannot hide the differences "
            "between the others) but still counted in "
            f"{'its' if len(test.outliers) == 1 else 'their'} configuration's mean.")
    lines.extend(f"Model check: {warning}." for warning in test.warnings)
    return lines


def _trend_sentences(report: Report) -> list[str]:
    important = [p for p in report.trends.parameters if p.importance > 0 and len(p.levels) > 1]
    if not important:
        return []
    top = important[0]
    text = (
        f"{top.name} matters most: it explains {fmt_share(top.importance)} of the variance "
        "of the configurations' ranks"
    )
    if top.best_value is not None:
        text += f" (best value {fmt_param(top.best_value)})"
    if len(important) > 1:
        second = important[1]
        text += f"; then {second.name} ({fmt_share(second.importance)})"
    lines = [text + "."]
    summary = report.summary
    if summary.best is not None:
        # One story: say so when the winner's value is not the value that is best overall.
        params = summary.config(summary.best).params
        for trend in important[:2]:
            value = params.get(trend.name)
            if trend.binned or trend.best_value is None or value is None:
                continue
            if value != trend.best_value:
                lines.append(
                    f"The winner has {trend.name}={fmt_param(value)}, not the value with the "
                    f"best median over configurations ({fmt_param(trend.best_value)}): "
                    f"{trend.name} interacts with the other parameters.")
    return lines


def _curve_sentences(report: Report) -> list[str]:
    curves = report.curves
    if curves is None:
        return ["No learning curves: no trial history (history.json) was found."]
    last = curves.points[-1].epoch
    if curves.converged_epoch is None:
        return []
    if len(curves.windows) < 2:
        return [
            f"The median {curves.metric} over {_plural(curves.n_trials, 'trial')} stops "
            f"improving meaningfully at epoch {curves.converged_epoch} (of {last})."
        ]
    # Each window judged on its own trials: windows' levels differ, pooling misleads.
    each = ", ".join(
        f"{w.curves.converged_epoch} ({w.window}"
        f"{', still improving at its last epoch' if w.still_improving else ''})"
        for w in curves.windows if w.curves.converged_epoch is not None)
    improving = [w.window for w in curves.windows if w.still_improving]
    advice = (f"; {_names(improving)} might gain from more epochs" if improving
              else f": epochs beyond {curves.converged_epoch} gain little in any window")
    return [
        f"Within each window, the median {curves.metric} stops improving meaningfully at "
        f"epoch {each}{advice}."
    ]


def verdict(report: Report) -> list[str]:
    """The verdict as sentences: winner, its test, bookkeeping, trends, convergence."""
    summary = report.summary
    if not summary.configs:
        return ["No trials have finished yet."]
    return [
        *_winner_sentences(summary, report.failures),
        *baseline_sentences(summary, report.baseline),
        *_model_sentences(summary),
        *_bookkeeping_sentences(summary, report.failures),
        *_trend_sentences(report),
        *_curve_sentences(report),
    ]
