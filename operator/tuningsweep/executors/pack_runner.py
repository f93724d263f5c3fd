"""A packed pod's entry point: the pack's trials one after another in one warm process.

Run as ``python -m tuningsweep.executors.pack_runner MODULE:FUNCTION [ARG...]`` in a pod
whose environment holds the common trainer contract plus :data:`~tuningsweep.core.
packing.ENV_PACK`, each trial's own variables (id, parameters, model location...). The
rules are :mod:`tuningsweep.core.kube.packing`'s; this module carries them out:

* for each trial in order, the process environment becomes the container's plus the
  trial's, and ``FUNCTION(args)`` is called in this process (the warm worker's call,
  :func:`.warm_worker.exit_code`): imports, CUDA's start and the window's data (the
  reference trainer's window cache, one window per pack) are paid once per pod;
* after each trial its exit status goes into the trial's own Pushgateway group
  (:data:`~tuningsweep.core.kube.packing.EXIT_GAUGE`, added to the group the trainer pushed,
  so the trial's metrics and grouping key stay its own);
* the first trial that fails ends the pod with that trial's exit status (2 stays 2, so
  the Job's pod failure policy fails it at once on bad input); the trials after it are
  the operator's to start again in a new Job;
* a pod started again for the same Job (an evicted pod, or ``backoffLimit``) first reads
  the Pushgateway and skips the trials whose exit record is 0: only unfinished trials
  run again.

Without a Pushgateway (``TUNINGSWEEP_PUSHGATEWAY`` unset) nothing is recorded or skipped.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from ..core.kube.packing import (
    ENDED_GAUGE,
    ENV_PACK,
    EXIT_GAUGE,
    STARTED_GAUGE,
    PackEntry,
    parse_exit_records,
    parse_pack_env,
)
from ..core.records.contract import (
    ENV_NAMESPACE,
    ENV_PUSHGATEWAY,
    ENV_SWEEP,
    ENV_TRIAL,
    ENV_TRIAL_STARTED,
    PUSH_JOB,
)
from .warm_worker import TrialFunction, exit_code, free_trial_state, load_or_explain

USAGE = "usage: python -m tuningsweep.executors.pack_runner MODULE:FUNCTION [ARG...]"
TIMEOUT_S = 10.0
ATTEMPTS = 5


def _gateway(url: str) -> str:
    return (url if "://" in url else f"http://{url}").rstrip("/")


def exit_records(pushgateway: str, namespace: str, sweep: str,
                 timeout: float = TIMEOUT_S) -> dict[str, int]:
    """The exit records of a sweep's trials in the Pushgateway (``trial -> status``).

    Reads the Pushgateway's ``/api/v1/metrics`` (every group with its metrics).

    Raises:
        OSError: the Pushgateway did not answer (``urllib`` errors are ``OSError``).
        ValueError: its answer is not the API's JSON.
    """
    with urllib.request.urlopen(f"{_gateway(pushgateway)}/api/v1/metrics",
                                timeout=timeout) as resp:
        body = json.load(resp)
    return {t: r.status for t, r in parse_exit_records(body, namespace, sweep).items()}


def push_exit(pushgateway: str, namespace: str, sweep: str, trial: str, status: int,
              started: float, ended: float,
              *, sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Add the trial's exit record (status, start and end) to its Pushgateway group; the
    error text if that failed.

    ``POST`` adds to the group without replacing what the trainer pushed. A record that
    cannot be pushed only costs a re-run of that trial if this pod is started again.
    """
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    Gauge(EXIT_GAUGE, "the trial's exit status, pushed by the pod that ran it (packed "
          "trials)", registry=registry).set(status)
    Gauge(STARTED_GAUGE, "when the pod started the trial (Unix seconds)",
          registry=registry).set(started)
    Gauge(ENDED_GAUGE, "when the trial returned (Unix seconds)", registry=registry).set(ended)
    error = ""
    for attempt in range(ATTEMPTS):
        try:
            pushadd_to_gateway(_gateway(pushgateway), job=PUSH_JOB, registry=registry,
                               grouping_key={"namespace": namespace, "sweep": sweep,
                                             "trial": trial}, timeout=TIMEOUT_S)
            return None
        except OSError as err:
            error = str(err)
            if attempt + 1 < ATTEMPTS:
                sleep(0.5 * 2 ** attempt)
    return error


def run_pack(function: TrialFunction, args: list[str], entries: Sequence[PackEntry],
             base_env: Mapping[str, str]) -> int:
    """Run the pack's unfinished trials in order; the pod's exit status.

    ``0`` when every trial exited 0 (or had before, in an earlier pod), else the status
    of the first trial that failed (the later trials are left to a new Job).
    """
    pushgateway = base_env.get(ENV_PUSHGATEWAY, "")
    namespace = base_env.get(ENV_NAMESPACE) or "default"
    sweep = base_env.get(ENV_SWEEP, "")
    done: dict[str, int] = {}
    if pushgateway:
        try:
            done = exit_records(pushgateway, namespace, sweep)
        except (OSError, ValueError) as err:
            # Not knowing costs re-running finished trials (their rows are kept: one per
            # trial id), never losing one.
            _say(f"could not read earlier exit records from the Pushgateway: {err}; "
                 "running every trial of the pack")
    for number, entry in enumerate(entries, 1):
        label = f"trial {entry.trial} ({number}/{len(entries)})"
        if done.get(entry.trial) == 0:
            _say(f"{label}: done in an earlier pod, skipped")
            continue
        started_at = time.time()
        env = {**base_env, **entry.env, ENV_TRIAL: entry.trial,
               ENV_TRIAL_STARTED: repr(started_at)}
        env.pop(ENV_PACK, None)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [sys.argv[0], *args]
        _say(f"{label}: starting")
        started = time.monotonic()
        status = exit_code(function, args)
        free_trial_state()
        _say(f"{label}: exit status {status} after {time.monotonic() - started:.1f}s")
        if pushgateway:
            error = push_exit(pushgateway, namespace, sweep, entry.trial, status,
                              started_at, time.time())
            if error:
                _say(f"{label}: could not push its exit record: {error}")
        if status != 0:
            return status
    return 0


def _say(message: str) -> None:
    sys.stdout.flush()
    print(f"tuningsweep pack: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (see the module docstring); exits 2 on a malformed pack or function."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    base_env = dict(os.environ)
    try:
        entries = parse_pack_env(base_env.get(ENV_PACK, ""))
    except ValueError as err:
        print(f"tuningsweep: error: {err}", file=sys.stderr)
        return 2
    function = load_or_explain(args[0])
    if function is None:
        return 2
    return run_pack(function, args[1:], entries, base_env)


if __name__ == "__main__":
    sys.exit(main())
