"""``tuningsweep validate FILE...``: check manifests and show what each would run."""

from __future__ import annotations

import datetime as dt

from ..cli import print_errors
from ..core.errors import InvalidSpec
from ..core.planner import count_trials
from ..core.windows import resolve_windows
from ..io.manifests import read_sweeps


def validate_command(files: list[str], today: dt.date | None) -> int:
    """Print ``ok: NAME: C configurations x W windows = T trials`` or every error; 0 or 2."""
    anchor = today or dt.date.today()
    failed = False
    for path in files:
        try:
            sweeps = read_sweeps(path)
        except InvalidSpec as exc:
            failed = True
            print_errors(exc)
            continue
        for sweep in sweeps:
            windows = resolve_windows(sweep.spec, anchor)
            configs, trials = count_trials(sweep.spec, windows)
            stages = " (auto: 2 stages)" if sweep.spec.algorithm == "auto" else ""
            plural = "s" if len(windows) != 1 else ""
            print(f"ok: {sweep.name}: {configs} configurations x {len(windows)} window{plural} "
                  f"= {trials} trials{stages}")
    return 2 if failed else 0
