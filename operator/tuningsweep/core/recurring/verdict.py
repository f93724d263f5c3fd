"""Did the winner change? A run's winner against the previous champion, in words.

The champion is the configuration a recurring sweep stands by: the first run's winner,
replaced only when a later run's winner beats it by more than noise, or when it can no
longer be measured. Each run compares its winner with the champion **on this run's
windows** (where the champion, carried over by warm start, was trained or reused like
any other configuration): one paired difference per window both have, the mean
difference with its 95% paired-t interval, and the p-value of the leaderboard's test
(:mod:`tuningsweep.core.stats.comparisons`: its scale, its flagged trials left out) that
the winner is better, two-sided when the test favours the winner. Then:

* *keep the champion*: the winner is the champion, or ahead by no more than noise
  (p >= alpha or fewer than two shared windows);
* *new winner*: significantly better than the champion (p < alpha); it becomes the
  champion;
* *the champion left the race*: it cannot be compared (not in this run, eliminated by
  racing, or a trial of it failed), with the reason; the winner becomes the champion.

Only one comparison is made per run (the winner against the champion), so alpha is not
split. That the winner is the best of many makes it look better than it is; how often
this still claims a change the truth did not make is measured against a known truth
(``bench/recurring_truth.py``, ``docs/recurring-sweeps.md``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..records.results import ParamValue
from ..records.reuse import params_key
from ..stats.comparisons import behind_p_values
from ..stats.significance import paired_t_intervals
from ..stats.summary_model import ConfigSummary, Summary

ALPHA = 0.05

FIRST = "first"
KEEP = "keep"
NEW = "new"
LEFT = "left"
NONE = "none"


@dataclass(frozen=True)
class Verdict:
    """What a run's winner means for the champion.

    Attributes:
        kind: first, keep, new, left (the champion left the race), none (no winner).
        best: the run's winner (config id) and its parameters and mean objective.
        champion: the champion after this run (its parameters), None before any winner.
        champion_config: the previous champion's config id in this run, if it ran.
        changed: the champion is now another configuration.
        significant: the winner is significantly better than the previous champion.
        difference: mean paired difference winner - champion (metric units).
        ci: its 95% interval; p_value: the paired t-test's.
        windows: how many windows the comparison had.
        text: the verdict in words.
    """

    kind: str
    best: str | None
    best_params: Mapping[str, ParamValue]
    objective: float | None
    champion: Mapping[str, ParamValue] | None
    champion_config: str | None
    changed: bool
    significant: bool
    difference: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    windows: int
    text: str


def _find(summary: Summary, params: Mapping[str, ParamValue]) -> ConfigSummary | None:
    key = params_key(params)
    return next((c for c in summary.configs if params_key(c.params) == key), None)


def _gone_because(champion: ConfigSummary | None) -> str | None:
    """Why the champion cannot be compared this run, or None when it can."""
    if champion is None:
        return ("it is not among this run's configurations (search.warmStart carries it "
                "over)")
    if champion.eliminated_at is not None:
        return (f"racing eliminated it after {champion.eliminated_at}: "
                f"{champion.elimination_reason or 'significantly behind the leader'}")
    if champion.n_failed:
        return f"{champion.n_failed} of its trials failed"
    if not champion.complete:
        missing = ", ".join(champion.missing_windows) or "some windows"
        return f"it has no result on {missing}"
    return None


def judge(summary: Summary, champion: Mapping[str, ParamValue] | None,
          alpha: float = ALPHA) -> Verdict:
    """Compare the run's winner with the previous champion (None on a first run)."""
    best = summary.config(summary.best) if summary.best is not None else None
    if best is None:
        return Verdict(NONE, None, {}, None, champion, None, False, False, None, None, None,
                       0, "no configuration finished every window: no winner this run")
    base = Verdict(FIRST, best.config, dict(best.params), best.mean, dict(best.params), None,
                   False, False, None, None, None, 0, "")
    if champion is None:
        return replace(base, text=f"first run: {best.config} is the champion")
    held = _find(summary, champion)
    base = replace(base, champion_config=held.config if held is not None else None)
    gone = _gone_because(held)
    if gone is not None:
        return replace(base, kind=LEFT, changed=True,
                       text=f"the champion left the race: {gone}; {best.config} is the new "
                            "champion")
    assert held is not None
    if held.config == best.config:
        return replace(base, kind=KEEP, text=f"keep the champion: it won again ({best.config})")
    return _compare(base, summary, best, held, champion, alpha)


def _compare(base: Verdict, summary: Summary, best: ConfigSummary, held: ConfigSummary,
             champion: Mapping[str, ParamValue], alpha: float) -> Verdict:
    """Test the winner against the champion on the run's windows.

    The winner is tested against the champion with the leaderboard's test (the paired
    mean difference over the moderated noise of the whole run, on the report's scale and
    without the trials it flags, see core/stats/comparisons.py), in the direction
    claimed, and its p-value is multiplied by the number of configurations but the
    champion (Bonferroni): the champion was chosen before this run, but the winner is the
    luckiest of the ``k - 1`` others, so any of them could have been tested.
    """
    windows = list(summary.windows)
    configs = [c for c in summary.configs if c.per_window]
    matrix = np.array([[c.per_window.get(w, np.nan) for w in windows] for c in configs],
                      dtype=np.float64)
    rows = {c.config: i for i, c in enumerate(configs)}
    shared = [w for w in windows if w in best.per_window and w in held.per_window]
    diffs = np.array([[best.per_window[w] - held.per_window[w] for w in shared]])
    difference = float(diffs.mean())
    low, high = paired_t_intervals(diffs)
    ci = None if np.isnan(low[0]) else (float(low[0]), float(high[0]))
    # The leaderboard's test, on its scale and without the trials it flags: one-sided,
    # "the champion is behind the winner", so that a claim is never made on a test that
    # found the difference the other way (a flagged trial of the winner's, left out, can
    # turn the windows that remain against it). Doubled, it is the two-sided p-value when
    # the test favours the winner.
    sign = 1.0 if summary.goal == "minimize" else -1.0
    behind = behind_p_values(sign * matrix, rows[best.config],
                             summary.goal)[rows[held.config]]
    tested = len(configs) - 1
    p_value = None if np.isnan(behind) else min(1.0, 2.0 * float(behind) * tested)
    better = difference < 0 if summary.goal == "minimize" else difference > 0
    significant = better and p_value is not None and p_value < alpha
    numbers = f"{difference:+.4g}" + (f" (95% CI [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else " (")
    numbers += (f"{', ' if ci else ''}p = {p_value:.3g})" if p_value is not None
                else f"{', ' if ci else ''}no test on {len(shared)} window(s))")
    base = replace(base, difference=difference, ci=ci, p_value=p_value,
                   windows=len(shared), significant=significant)
    if significant:
        return replace(base, kind=NEW, changed=True,
                       text=f"new winner: {best.config} beats the champion {held.config} "
                            f"by {numbers}")
    return replace(base, kind=KEEP, champion=dict(champion),
                   text=f"keep the champion {held.config}: the winner {best.config} differs "
                        f"by {numbers}, within noise")
