"""The local executor: every planned trial as a process of the trainer on this machine.

It decides nothing. :func:`tuningsweep.core.planning.decisions.decide` says which trials to start
and when the sweep is over, :func:`tuningsweep.core.planning.outcomes.trial_row` what a finished
process becomes; this module starts processes, waits for them, reads what they left
(exit status, metrics file, log) and records rows. The operator runs the same core with
Jobs instead of processes. State lives only in the results folder, so a killed runner
resumes by re-reading it.

Process handling:

* The loop waits for whichever process ends first (:mod:`.process_exits`: pidfds with
  epoll on Linux, a waiter thread per process elsewhere), so it reacts to a finished
  trial at once instead of polling (the runner's own overhead stays within a few
  percent of the trials' time; ``make bench`` measures it).
* Trials run in their own session, so Ctrl-C reaches only the runner, which then stops
  them cleanly (SIGTERM, then SIGKILL after a grace period) and writes what finished.
  Where ``setpriv`` exists the trial also gets a parent-death signal, so even a
  SIGKILLed runner leaves no orphaned trainers behind.
* Warm workers (``LocalSettings.warm``, the default for the reference trainer and a
  trainer function): each slot keeps one process that trains trial after trial
  (:mod:`.warm_pool`, :mod:`.warm_worker`), so a trial does not pay the interpreter's and
  TensorFlow's start again. A worker that dies fails only its current trial, recorded
  exactly as a process that died. Early stopping interrupts a trial inside its worker
  (``SIGUSR1``), which stays; Ctrl-C and the failure budget stop the workers.
* Threads are split: with N parallel trials on C cores each trainer gets C // N
  TensorFlow threads; with GPUs each trial sees one GPU through CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.kube.jobs import EXIT_BAD_INPUT
from ..core.planning.decisions import Usage, decide
from ..core.planning.ledger import Ledger
from ..core.planning.outcomes import TrialEnd, trial_row
from ..core.planning.planner import Plan, Trial
from ..core.planning.status import FAILED, PENDING
from ..core.records.contract import (
    ENV_DATA_CACHE,
    ENV_METRICS_FILE,
    ENV_TF_THREADS,
    ENV_TRIAL_STARTED,
    MetricsLog,
    trial_env,
    trial_model_uri,
)
from ..core.records.results import ResultRow
from ..core.search.early_stopping import EpochCurves
from ..core.spec.parse import DateWindow, Sweep
from ..io.results_store import ResultsStore
from .process_exits import ProcessExits
from .trial_files import (
    TrialCurves,
    error_tail,
    pdeathsig_prefix,
    read_metrics_log,
)
from .warm_pool import WarmSettings, Worker

TERMINATE_GRACE_S = 5.0
EPOCH_POLL_S = 0.5  # how often running trials' epochs are read when early stopping is on
METRICS_FILE = "metrics.jsonl"


@dataclass
class LocalSettings:
    """How trials run on this machine."""

    parallel: int
    command: Sequence[str]
    models_uri: str  # this sweep's models folder; each trial saves under <models_uri>/<trial>
    workdir: Path
    tf_threads: int | None = None
    gpus: Sequence[str] = ()
    data: str | None = None
    retry_failed: bool = False
    # A recurring sweep's run: a trial's row copied from an earlier run, or None to
    # train it (core/recurring/runs.py).
    reuse: Callable[[Trial], ResultRow | None] | None = None
    warm: WarmSettings | None = None  # a warm worker per slot instead of a process per trial
    data_cache: Path | None = None  # where trainers keep windows' data (TUNINGSWEEP_DATA_CACHE)


@dataclass
class _Running:
    trial: Trial
    process: subprocess.Popen[bytes]
    started_at: dt.datetime
    started: float
    metrics_file: Path
    log_file: Path
    gpu: str | None
    worker: Worker | None = None  # the warm worker running it (None: its own process)
    code: int | None = None  # its exit status, once known


@dataclass
class Outcome:
    """How a run ended."""

    stopped_reason: str | None = None
    failed_trials: list[str] = field(default_factory=list)
    phase: str = PENDING  # the decision core's last word: Succeeded, Failed, Suspended
    reason: str = ""  # why, as a condition reason (AllTrialsDone, BudgetSpent, ...)
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when every trial ran and the failure budget held."""
        return self.stopped_reason is None


class Events:
    """Callbacks for progress display; the default does nothing."""

    def started(self, trial: Trial, running: int) -> None:
        """A trial's process started."""

    def finished(self, row: ResultRow, running: int) -> None:
        """A trial finished and its row is recorded."""

    def planned(self, plan: Plan) -> None:
        """The plan changed (first plan, or a new auto stage)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class LocalExecutor:
    """Runs one sweep's pending trials as local processes until done, stopped or failed."""

    def __init__(
        self, sweep: Sweep, results: ResultsStore, windows: tuple[DateWindow, ...],
        settings: LocalSettings, events: Events | None = None,
    ) -> None:
        self.sweep = sweep
        self.results = results
        self.windows = windows
        self.settings = settings
        self.events = events or Events()
        self._running: dict[str, _Running] = {}
        self._exits = ProcessExits()
        self._free_gpus = list(settings.gpus)
        self._idle: list[Worker] = []  # warm workers waiting for a trial
        self._workers_started = 0
        self._prefix = pdeathsig_prefix()
        # The rows that count, kept as a Ledger so that deciding costs the same at any
        # size. A failed trial is done unless it is one of the failures --retry-failed
        # found at the start; each of those runs once more, and a new failure is final.
        self._retry = ({r.trial: r for r in results.rows if r.status == "failed"}
                       if settings.retry_failed else {})
        self._counted = Ledger(r for r in results.rows if r.trial not in self._retry)
        self._trial_curves = (None if sweep.spec.early_stopping is None else TrialCurves(
            settings.workdir, METRICS_FILE, sweep.spec.objective_metric,
            sweep.spec.objective_goal == "maximize"))

    # -- processes ------------------------------------------------------------------------

    def model_uri(self, trial_id: str) -> str:
        """Where the trial's trainer saves its model: ``<models prefix>/<trial>``."""
        return trial_model_uri(self.settings.models_uri, trial_id)

    def _env(self, trial: Trial, metrics_file: Path, gpu: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(dict(self.sweep.spec.trainer.env))
        model_uri = self.model_uri(trial.id)
        env.update(trial_env(self.sweep, trial, model_uri=model_uri,
                             data=self.settings.data, metrics_file=str(metrics_file)))
        if self.settings.tf_threads:
            env[ENV_TF_THREADS] = str(self.settings.tf_threads)
        if self.settings.gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpu or ""
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env[ENV_TRIAL_STARTED] = repr(time.time())
        if self.settings.data_cache is not None:
            env.setdefault(ENV_DATA_CACHE, str(self.settings.data_cache))
        return env

    def _new_worker(self, gpu: str | None, env: dict[str, str]) -> Worker:
        """A new warm worker for ``gpu``'s slot, its output in ``workers/worker-N.log``."""
        assert self.settings.warm is not None
        self._workers_started += 1
        folder = self.settings.workdir / "workers"
        folder.mkdir(parents=True, exist_ok=True)
        log_file = folder / f"worker-{self._workers_started}.log"
        log_file.unlink(missing_ok=True)
        return Worker(self._prefix, self.settings.warm, env, log_file, gpu)

    def _start_warm(self, env: dict[str, str], log_file: Path, gpu: str | None) -> Worker:
        """Hand the trial to the slot's idle worker, else to a new one."""
        args = self.sweep.spec.trainer.args
        for i, idle in enumerate(self._idle):
            if idle.gpu == gpu:
                del self._idle[i]
                try:
                    idle.send(env, args, log_file)
                    return idle
                except OSError:
                    idle.kill()  # it died while idle: that costs no trial
                break
        worker = self._new_worker(gpu, env)
        # A worker that dies at once (its trainer's module does not import) fails this
        # trial: its reply pipe ends and its exit status and log are the trial's.
        with contextlib.suppress(OSError):
            worker.send(env, args, log_file)
        return worker

    def _start(self, trial: Trial) -> bool:
        """Start the trial's process; False when an earlier run's row was reused instead."""
        retried = self._retry.pop(trial.id, None)
        if retried is not None:
            self._counted.add(retried)  # its earlier failure counts until its new row
        reused = self.settings.reuse(trial) if self.settings.reuse is not None else None
        if reused is not None:
            self._counted.add(reused)
            self.results.add([reused])
            self.events.finished(reused, len(self._running))
            return False
        folder = self.settings.workdir / trial.id
        folder.mkdir(parents=True, exist_ok=True)
        metrics_file = folder / METRICS_FILE
        log_file = folder / "trainer.log"
        # A retried or resumed trial must not read a previous attempt's final record.
        metrics_file.unlink(missing_ok=True)
        gpu = self._free_gpus.pop(0) if self._free_gpus else None
        env = self._env(trial, metrics_file, gpu)
        if self.settings.warm is not None:
            log_file.write_bytes(b"")  # the worker appends the trial's output
            worker = self._start_warm(env, log_file, gpu)
            self._running[trial.id] = _Running(trial, worker.process, _now(), time.monotonic(),
                                               metrics_file, log_file, gpu, worker)
            self._exits.watch_reply(trial.id, worker.reply_fd)
            self.events.started(trial, len(self._running))
            return True
        command = [*self._prefix, *self.settings.command, *self.sweep.spec.trainer.args]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command, env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self._running[trial.id] = _Running(trial, process, _now(), time.monotonic(),
                                           metrics_file, log_file, gpu)
        self._exits.watch(trial.id, process)
        self.events.started(trial, len(self._running))
        return True

    def _row(self, run: _Running, log: MetricsLog) -> ResultRow:
        code = run.process.returncode if run.code is None else run.code
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        end = TrialEnd(
            trial=run.trial, exited_ok=code == 0,
            # the log is read only when the trial failed: a success does not need it
            failure=f"trainer {how}: {self._error_tail(run)}" if code != 0 else "",
            final=log.final,
            no_final=f"trainer exited 0 without reporting final metrics ({ENV_METRICS_FILE})",
            started_at=run.started_at.isoformat(), finished_at=_now().isoformat(),
            duration_seconds=time.monotonic() - run.started,
            gpus=1.0 if run.gpu is not None else 0.0,
            model_uri=self.model_uri(run.trial.id), job="local",
            bad_input=code == EXIT_BAD_INPUT,
        )
        return trial_row(self.sweep, end)

    def _error_tail(self, run: _Running) -> str:
        """The trial's last words; a worker that died before the trial wrote anything
        (it could not import the trainer) has them in its own log."""
        tail = error_tail(run.log_file)
        if not tail and run.worker is not None:
            tail = error_tail(run.worker.log_file)
        return tail

    def _end_warm(self, run: _Running) -> None:
        """The trial's worker replied or died: note its exit status, keep or retire it."""
        worker = run.worker
        assert worker is not None
        run.code = worker.result()
        if run.code is None:
            run.code = worker.died()  # the worker's exit status is the trial's, as cold
        elif worker.worn:
            worker.close()
        else:
            self._idle.append(worker)

    def _collect(self, trial_id: str) -> ResultRow:
        run = self._running.pop(trial_id)
        if run.worker is not None:
            self._end_warm(run)
        if run.gpu is not None:
            self._free_gpus.append(run.gpu)
        log = read_metrics_log(run.metrics_file)  # read once: the row and the curve
        row = self._row(run, log)
        self._counted.add(row)
        if self._trial_curves is not None:
            self._trial_curves.finished(row, log)
        return row

    def _record(self, finished: list[ResultRow]) -> None:
        """Make collected rows durable (each is removed from ``finished`` once it is)."""
        while finished:
            self.results.add(finished[:1])
            self.events.finished(finished.pop(0), len(self._running))

    def stop_all(self) -> None:
        """Stop every running trial: SIGTERM, then SIGKILL after a grace period."""
        for run in self._running.values():
            if run.worker is not None:
                self._exits.forget(run.worker.reply_fd)
            if run.process.poll() is None:
                # The trial may exit between poll() and the signal.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE_S
        for run in self._running.values():
            try:
                run.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()
            if run.worker is not None:
                run.worker.close_fds()
        self._running.clear()
        self.close_workers()

    def close_workers(self) -> None:
        """Retire the idle warm workers (the sweep is over or being stopped)."""
        for worker in self._idle:
            worker.retire()  # all at once: they exit in parallel
        while self._idle:
            self._idle.pop().close()

    # -- the loop -------------------------------------------------------------------------

    def _usage(self) -> Usage:
        """What the running trials have used so far (the budget counts it)."""
        now = time.monotonic()
        elapsed = [(now - run.started, run.gpu is not None) for run in self._running.values()]
        return Usage(gpu_seconds=sum(s for s, gpu in elapsed if gpu),
                     trial_seconds=sum(s for s, _ in elapsed))

    def _curves(self) -> EpochCurves | None:
        """What early stopping compares (None without the rule); see :class:`TrialCurves`."""
        if self._trial_curves is None:
            return None
        return self._trial_curves.now(self._counted, {t: run.trial.window.id
                                                      for t, run in self._running.items()})

    def _stop(self, trial_id: str, reason: str) -> ResultRow:
        """End a trial early stopping chose: terminate it, record a ``stopped`` row."""
        run = self._running.pop(trial_id)
        if run.worker is not None:
            # Interrupted inside its worker, which stays for the slot's next trial; one
            # that does not answer within the grace period is stopped with its trial.
            self._exits.forget(run.worker.reply_fd)
            if run.worker.interrupt(TERMINATE_GRACE_S) and not run.worker.worn:
                self._idle.append(run.worker)
            else:
                run.worker.kill()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.process.pid, signal.SIGTERM)
            try:
                run.process.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()
        if run.gpu is not None:
            self._free_gpus.append(run.gpu)
        log = read_metrics_log(run.metrics_file)
        last = log.epochs.get(log.last_epoch, {})
        row = trial_row(self.sweep, TrialEnd(
            trial=run.trial, exited_ok=True, final=last, stopped=reason,
            started_at=run.started_at.isoformat(), finished_at=_now().isoformat(),
            duration_seconds=time.monotonic() - run.started,
            gpus=1.0 if run.gpu is not None else 0.0, job="local"))
        self._counted.add(row)
        if self._trial_curves is not None:
            self._trial_curves.finished(row, log)
        self.results.add([row])
        return row

    def _next_exit(self) -> str | None:
        """The next trial whose process ended; None when it is time to look at epochs."""
        timeout = EPOCH_POLL_S if self.sweep.spec.early_stopping is not None else None
        while True:
            trial_id = self._exits.next(timeout)
            if trial_id is None:
                return None
            if trial_id in self._running:
                return trial_id
            # a trial early stopping ended: its row is written already

    def run(self) -> Outcome:
        """Run until the decision core says the sweep is over.

        KeyboardInterrupt stops the running trials (their rows are not written: they
        run again on resume) and propagates after what finished is recorded.

        A finished trial's row is recorded after its slot is refilled, so the next trial
        does not wait for the row's fsync; a kill in between loses nothing a resume
        would miss (that trial has no row yet and simply runs again).
        """
        outcome = Outcome()
        spec = dataclasses.replace(self.sweep.spec, parallelism=self.settings.parallel)
        preload: threading.Thread | None = None
        plan: Plan | None = None
        finished: list[ResultRow] = []  # collected, not yet recorded
        try:
            while True:
                decision = decide(spec, self.windows, self._counted,
                                  running=self._running.keys(), previous=plan,
                                  usage=self._usage(), curves=self._curves())
                if plan is None or decision.plan.stage != plan.stage:
                    self.events.planned(decision.plan)
                plan = decision.plan
                outcome.phase = decision.phase
                outcome.reason, outcome.message = decision.reason, decision.message
                outcome.failed_trials = sorted(decision.failed or {})
                if decision.phase == FAILED:
                    outcome.stopped_reason = decision.message
                    break
                for stopped, reason in (decision.stop or {}).items():
                    self.events.finished(self._stop(stopped, reason), len(self._running))
                started = [self._start(trial) for trial in decision.start]
                if preload is None:
                    # The summary's statistics (numpy: about 0.1 s to import) are needed
                    # once the first trial finishes; loading them while this thread waits
                    # on the first trials keeps that from delaying a freed slot's refill.
                    preload = threading.Thread(
                        target=importlib.import_module, args=("tuningsweep.core.stats.summary",),
                        daemon=True, name="preload-statistics")
                    preload.start()
                self._record(finished)
                if not all(started):
                    continue  # reused trials left their slots free: decide again at once
                if not self._running:
                    if decision.stop:
                        continue  # slots were freed after the decision: decide again
                    break  # the core had nothing left to start: the sweep is done
                ended = self._next_exit()
                if ended is not None:
                    finished.append(self._collect(ended))
        except BaseException:
            self.stop_all()
            raise
        finally:
            self._record(finished)  # the budget ran out, Ctrl-C, an error: still recorded
            if outcome.stopped_reason is not None:
                self.stop_all()
            self.close_workers()
            self._exits.close()
        return outcome


def default_workdir(results_is_local: bool, results_folder: Path | None) -> Path:
    """Where trial logs and metrics files go: beside local results, else a temp folder."""
    if results_is_local and results_folder is not None:
        return results_folder / "trials"
    return Path(tempfile.mkdtemp(prefix="tuningsweep-trials-"))

