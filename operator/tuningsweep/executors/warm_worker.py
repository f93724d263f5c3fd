"""A warm trainer worker: one process that runs trial after trial of a Python trainer.

Started by the local executor (:mod:`.warm_pool`) as
``python -m tuningsweep.executors.warm_worker MODULE:FUNCTION --reply-fd N``. Importing
TensorFlow takes seconds and a fast-mode trial trains for about as long, so a process per
trial spends most of its life starting; a worker pays the imports once and keeps what a
trainer caches between trials in memory (the reference trainer keeps each window's
prepared data, :mod:`tuningsweep_trainer.window_cache`).

The protocol, one trial at a time:

* the executor writes one JSON line on the worker's stdin:
  ``{"env": {...}, "args": [...], "log": PATH}`` (the trial's whole environment, the
  trainer's arguments, the trial's log file);
* the worker points its file descriptors 1 and 2 at the log, replaces ``os.environ`` with
  the trial's, calls ``FUNCTION(args)`` and writes one JSON line on the reply descriptor:
  ``{"exit": CODE, "rss": BYTES}``. ``CODE`` is what a process would have exited with:
  the function's return value (``None`` is 0), a ``SystemExit``'s code, or 1 with the
  traceback in the log for any other exception;
* between trials it frees what the trial held: Keras' session (when Keras is loaded) and
  Python's garbage (after the first trial, what is alive is frozen out of the garbage
  collector's scans: the imported libraries need not be scanned again at every trial);
* ``SIGUSR1`` stops the running trial (early stopping): the function is interrupted by
  an exception at its next Python instruction, the worker frees what it held and
  replies as usual, and stays for the next trial;
* end of stdin (the executor closed it) ends the worker.

A trial that kills the worker (a crash, ``os._exit``, the out-of-memory killer) closes
the reply descriptor with no reply: the executor records the process's exit status as
that trial's, exactly as for a process per trial, and starts a new worker for the next.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import json
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

TrialFunction = Callable[[list[str]], "int | None"]


def load_function(target: str) -> TrialFunction:
    """The function ``MODULE:FUNCTION`` names (the current folder is importable).

    Raises:
        ValueError: ``target`` is not ``MODULE:FUNCTION`` or does not name a function.
        ImportError: the module cannot be imported.
    """
    module_name, sep, name = target.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"{target!r} is not MODULE:FUNCTION")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"{module_name} has no function {name!r}")
    if _takes_args(function):
        return function  # type: ignore[no-any-return]
    return lambda args: function()  # type: ignore[no-any-return]


def _takes_args(function: Callable[..., Any]) -> bool:
    """Whether ``function`` can be called with one positional argument (the trainer's
    arguments); a ``main()`` without parameters is called without."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind([])
    except TypeError:
        return False
    return True


def rss_bytes() -> int:
    """This process's resident memory now (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class TrialStopped(BaseException):
    """The runner stopped the trial (early stopping): raised in it by ``SIGUSR1``."""


_in_trial = False  # whether SIGUSR1 stops something: only while the function runs


def _stop_trial(signum: int, frame: Any) -> None:
    if _in_trial:
        raise TrialStopped


def load_or_explain(target: str, *, show_traceback: bool = False) -> TrialFunction | None:
    """:func:`load_function`, or None after saying why on stderr in one line (the line a
    failed trial's row keeps): a bad name, or a module that fails to import (a bug no
    retry can fix, so its caller exits 2: bad input)."""
    try:
        return load_function(target)
    except (ValueError, ImportError) as err:
        print(f"tuningsweep: error: trainer function {target}: {err}", file=sys.stderr)
    except Exception as err:
        if show_traceback:
            traceback.print_exc()
        print(f"tuningsweep: error: trainer function {target}: importing it failed: "
              f"{type(err).__name__}: {err}", file=sys.stderr)
    return None


def exit_code(function: TrialFunction, args: list[str]) -> int:
    """Call the trial function; the exit status a process running it would have had."""
    global _in_trial
    try:
        _in_trial = True
        try:
            returned = function(args)
        finally:
            _in_trial = False
    except TrialStopped:
        print("tuningsweep: the trial was stopped (early stopping)", file=sys.stderr)
        return 1
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return int(returned or 0)


def free_trial_state() -> None:
    """Drop what the finished trial held: Keras' graph and names, Python's garbage."""
    keras: Any = sys.modules.get("keras")
    if keras is not None:
        with contextlib.suppress(Exception):
            keras.backend.clear_session()  # collects Python's garbage too
            return
    gc.collect()


@contextlib.contextmanager
def _output_to(log_path: str) -> Any:
    """Send file descriptors 1 and 2 (and so ``print`` and native logs) to the log."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for kept in (fd, *saved):
            os.close(kept)


def serve(function: TrialFunction, requests: Any, reply_fd: int) -> None:
    """Run the trials read from ``requests`` until it ends (see the module docstring)."""
    frozen = False
    signal.signal(signal.SIGUSR1, _stop_trial)
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        args = [str(a) for a in request["args"]]
        sys.argv = [sys.argv[0], *args]  # for a main() that parses sys.argv itself
        with _output_to(request["log"]):
            code = exit_code(function, args)
            free_trial_state()
        if not frozen:
            # What is alive after the first trial's garbage is gone is what every trial
            # shares (the libraries, caches): kept out of the collector's scans, the
            # collection between trials takes milliseconds, not half a second.
            gc.freeze()
            frozen = True
        os.write(reply_fd, (json.dumps({"exit": code, "rss": rss_bytes()}) + "\n").encode())


def main(argv: Sequence[str] | None = None) -> int:
    """The worker's entry point: ``MODULE:FUNCTION --reply-fd N`` serves trials from
    stdin; ``--once MODULE:FUNCTION [ARG...]`` runs one trial from the environment and
    exits with its status (a trainer function run as a process per trial)."""
    args = list(sys.argv[1:] if argv is None else argv)
    once = args[:1] == ["--once"]
    if once:
        args = args[1:]
    if not args or (not once and (len(args) != 3 or args[1] != "--reply-fd")):
        print("usage: python -m tuningsweep.executors.warm_worker MODULE:FUNCTION "
              "--reply-fd N | --once MODULE:FUNCTION [ARG...]", file=sys.stderr)
        return 2
    function = load_or_explain(args[0], show_traceback=True)
    if function is None:
        return 2
    if once:
        sys.argv = [sys.argv[0], *args[1:]]
        return exit_code(function, args[1:])
    serve(function, sys.stdin, int(args[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
