"""The local runner's own overhead: 200 one-second trials at --parallel 8.

The trainer is a trivial shell command (sleep one second, append a final metric to the
metrics file), so everything beyond the ideal 200 x 1 s / 8 = 25 s is the runner's:
process start, collection, CSV and summary rewrites. Target: within 1.1x of the ideal.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write

TRIALS = 200
PARALLEL = 8
SLEEP_S = 1.0

TRAINER = f"""#!/bin/sh
sleep {SLEEP_S}
echo '{{"type": "final", "metrics": {{"val_mse": 0.5}}}}' >> "$TUNINGSWEEP_METRICS_FILE"
"""

MANIFEST = f"""\
architecture: custom
windows: {{ranges: [{{start: 2026-01-01, end: 2026-01-31}}]}}
search: {{algorithm: grid}}
parameters:
  x: {{values: [{', '.join(str(i) for i in range(TRIALS))}]}}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trainer = folder / "trainer.sh"
        trainer.write_text(TRAINER)
        trainer.chmod(0o755)
        manifest = folder / "overhead.yaml"
        manifest.write_text(MANIFEST)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tuningsweep.cli", "run", str(manifest), "--results",
             str(folder / "results"), "--parallel", str(PARALLEL), "--trainer-command",
             str(trainer), "-q"], check=True)
        wall = time.perf_counter() - started
        rows = (folder / "results" / "default" / "overhead" / "results.csv").read_text()
        assert rows.count("\n") == TRIALS + 1
    ideal = TRIALS * SLEEP_S / PARALLEL
    write("runner_overhead", {
        "trials": TRIALS, "parallel": PARALLEL, "trial_seconds": SLEEP_S,
        "wall_seconds": round(wall, 2), "ideal_seconds": ideal,
        "ratio_to_ideal": round(wall / ideal, 3), "target_ratio": 1.1,
        "note": "wall time includes the CLI's own start-up (imports) once",
    })


if __name__ == "__main__":
    main()
