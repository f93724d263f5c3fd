"""The two ways a trial can fail, so the exit status can tell them apart.

The executors and the operator read the exit status: ``2`` means the trial's *input* is
wrong (a parameter typo, a data URI that does not resolve, a window without data) and
retrying cannot help; ``1`` means training itself failed (or its results could not be
delivered). Raising one of these from anywhere in the trainer is how code chooses.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TRAINING_FAILED = 1
EXIT_BAD_INPUT = 2


class TrainerError(Exception):
    """Base class: a failure with a one-line, user-facing message and an exit status."""

    exit_code = EXIT_TRAINING_FAILED


class BadInputError(TrainerError):
    """The trial's configuration or data is wrong; nothing was trained."""

    exit_code = EXIT_BAD_INPUT


class TrainingFailedError(TrainerError):
    """Training ran (or tried to) and failed, or its results could not be saved/reported."""

    exit_code = EXIT_TRAINING_FAILED
