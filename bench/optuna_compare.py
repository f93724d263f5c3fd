"""Short trials side by side: ``tuningsweep run`` against Optuna (in memory).

64 trials of 0.2 s at 2 parallel, each trial a separate process running the same tiny
shell script (sleep, then write its metric), the tools alternating for ``ROUNDS``
rounds so that both see the same machine load. Per tool and round: the wall time from
launching the tool to its exit against the ideal 64 x 0.2 s / 2 = 6.4 s, and the time
from launching it to the first trial process's start. Targets: tuningsweep at or below
Optuna on both.

Optuna is not a project dependency: the benchmark installs it into a scratch virtual
environment (``bench/out/optuna-venv``, reused by later runs) with pip, and runs its side
with that interpreter, so neither tool loads anything of the other.

Both start from compiled bytecode, as an installed package does: pip compiles Optuna's
modules when it installs them, and the benchmark compiles tuningsweep's (an editable
checkout under ``PYTHONDONTWRITEBYTECODE=1``, as on these machines, would otherwise
compile every module again at each start, some 40 ms that no installed copy pays).
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, write

TRIALS = 64
PARALLEL = 2
SLEEP_S = 0.2
ROUNDS = 5
IDEAL_S = TRIALS * SLEEP_S / PARALLEL

TRIAL = f"""#!/bin/sh
[ -e "$BENCH_FIRST" ] || date +%s.%N > "$BENCH_FIRST"
sleep {SLEEP_S}
echo '{{"type": "final", "metrics": {{"val_mse": 0.5}}}}' >> "$TUNINGSWEEP_METRICS_FILE"
"""

MANIFEST = f"""\
architecture: custom
windows: {{ranges: [{{start: 2026-01-01, end: 2026-01-31}}]}}
search: {{algorithm: random, maxConfigs: {TRIALS}}}
parameters:
  x: {{min: 0.0, max: 1.0}}
"""

# Optuna's side: the same script per trial, its metric read back from the same file the
# tuningsweep contract uses; random sampling like the manifest above.
OPTUNA = f"""\
import json, os, subprocess, sys, tempfile
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
script, folder = sys.argv[1], sys.argv[2]

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    metrics = os.path.join(folder, f"trial-{{trial.number}}.jsonl")
    subprocess.run([script], env={{**os.environ, "TUNINGSWEEP_METRICS_FILE": metrics,
                                  "X": repr(x)}}, check=True)
    with open(metrics) as lines:
        return json.loads(lines.read().splitlines()[-1])["metrics"]["val_mse"]

study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
study.optimize(objective, n_trials={TRIALS}, n_jobs={PARALLEL})
assert len(study.trials) == {TRIALS}
"""


def optuna_python() -> Path:
    """The scratch environment's interpreter, with Optuna installed (once)."""
    env = OUT / "optuna-venv"
    python = env / "bin" / "python"
    if not python.exists() or subprocess.run([python, "-c", "import optuna"],
                                             capture_output=True).returncode != 0:
        venv.create(env, with_pip=True, clear=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "optuna"], check=True)
    return python


def timed(command: list[str], first: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, seconds to the first trial's start) of one run of ``command``."""
    first.unlink(missing_ok=True)
    started = time.time()
    subprocess.run(command, check=True, env={**env, "BENCH_FIRST": str(first)})
    wall = time.time() - started
    return wall, float(first.read_text()) - started


# Runs a command and prints the peak RSS (KiB) of its largest descendant: the tool itself.
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_mb(command: list[str], first: Path, env: dict[str, str]) -> float:
    """Peak memory of one more run of ``command`` (measured apart from the timed runs)."""
    first.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", PEAK, *command], check=True, text=True,
                         capture_output=True, env={**env, "BENCH_FIRST": str(first)}).stdout
    return round(int(out.split()[-1]) / 1024, 1)


def main() -> None:
    import tuningsweep

    compileall.compile_dir(Path(tuningsweep.__file__).parent, quiet=1)
    python = optuna_python()
    version = subprocess.run([python, "-c", "import optuna; print(optuna.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    runs: dict[str, list[tuple[float, float]]] = {"tuningsweep": [], "optuna": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = folder / "trial.sh"
        script.write_text(TRIAL)
        script.chmod(0o755)
        (folder / "short.yaml").write_text(MANIFEST)
        (folder / "optuna_side.py").write_text(OPTUNA)
        env = dict(os.environ)

        def commands(round_: str) -> dict[str, list[str]]:
            metrics = folder / f"optuna{round_}"
            metrics.mkdir()
            return {
                "tuningsweep": [sys.executable, "-m", "tuningsweep.cli", "run",
                                str(folder / "short.yaml"), "--results",
                                str(folder / f"results{round_}"), "--parallel", str(PARALLEL),
                                "--trainer-command", str(script), "-q"],
                "optuna": [str(python), str(folder / "optuna_side.py"), str(script),
                           str(metrics)]}

        for round_ in range(ROUNDS):
            for tool, command in commands(str(round_)).items():
                runs[tool].append(timed(command, folder / "first", env))
            print(json.dumps({k: v[-1] for k, v in runs.items()}), flush=True)
        peaks = {tool: peak_mb(command, folder / "first", env)
                 for tool, command in commands("peak").items()}
    figures = {}
    for tool, measured in runs.items():
        figures[tool] = {
            "wall_seconds": [round(w, 2) for w, _ in measured],
            "ratio_to_ideal": [round(w / IDEAL_S, 3) for w, _ in measured],
            "first_trial_seconds": [round(f, 3) for _, f in measured],
            "median_ratio": round(statistics.median(w / IDEAL_S for w, _ in measured), 3),
            "median_first_trial_seconds": round(statistics.median(f for _, f in measured), 3),
            "peak_rss_mb": peaks[tool],
        }
    write("optuna_compare", {
        "trials": TRIALS, "parallel": PARALLEL, "trial_seconds": SLEEP_S,
        "ideal_seconds": IDEAL_S, "rounds": ROUNDS, "optuna_version": version, **figures,
        "tuningsweep_over_optuna": round(figures["tuningsweep"]["median_ratio"]
                                         / figures["optuna"]["median_ratio"], 3),
        "target": "tuningsweep at or below Optuna in memory, wall and first trial",
    })


if __name__ == "__main__":
    main()
