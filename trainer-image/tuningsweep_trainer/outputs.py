"""Where a trial's artefacts go: ``TUNINGSWEEP_MODEL_URI``, a local folder or ``gs://``.

Layout under the URI::

    model.keras        the model with the best epoch's weights (Keras 3 format)
    history.json       list of per-epoch metrics, ``[{"epoch": 1, "loss": ..., ...}, ...]``
    result.json        architecture, window, hyperparameters, final metrics, data report
    preprocessing.json scaling statistics and vocabularies the model's inputs were made with
    tensorboard/       TensorBoard event files (``train/`` and ``validation/``)

Everything is written to a local folder first (the URI itself when it is local, a
temporary folder for ``gs://``) and, for GCS, uploaded once training is over. Keras
and TensorBoard then never talk to GCS themselves, so no TensorFlow filesystem plugin
is needed and the emulator in the tests behaves like the real service. A rerun of the
same trial replaces the previous attempt's TensorBoard events rather than mixing them.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tuningsweep.core.records.layout import HISTORY_JSON

from . import gcs
from .errors import TrainingFailedError

MODEL_FILE = "model.keras"
RESULT_FILE = "result.json"
TENSORBOARD_DIR = "tensorboard"
PREPROCESSING_FILE = "preprocessing.json"


class ModelOutput:
    """The output location of one trial; a context manager owning any temporary folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.remote = gcs.is_gcs_uri(uri)
        if self.remote:
            gcs.split_uri(uri)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.local_dir = Path(uri)

    def __enter__(self) -> Self:
        if self.remote:
            self._tmp = tempfile.TemporaryDirectory(prefix="tuningsweep-model-")
            self.local_dir = Path(self._tmp.name)
        try:
            self.local_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.tensorboard_dir, ignore_errors=True)
        except OSError as err:
            raise TrainingFailedError(f"cannot create model folder {self.uri!r}: {err}") from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def tensorboard_dir(self) -> Path:
        """Local folder TensorBoard writes to during training."""
        return self.local_dir / TENSORBOARD_DIR

    def save(self, model: Any, history: list[dict[str, float]], result: dict[str, Any],
             preprocessing: dict[str, Any] | None = None) -> str:
        """Save model, history, result and preprocessing; upload them for ``gs://``.

        Returns:
            The URI of the saved model file.

        Raises:
            TrainingFailedError: writing or uploading failed.
        """
        try:
            if preprocessing is not None:
                _write_json(self.local_dir / PREPROCESSING_FILE, preprocessing)
            model.save(self.local_dir / MODEL_FILE)
            _write_json(self.local_dir / HISTORY_JSON, history)
            _write_json(self.local_dir / RESULT_FILE, result)
            if self.remote:
                gcs.upload_tree(self.local_dir, self.uri, replace=(TENSORBOARD_DIR,))
        except Exception as err:
            raise TrainingFailedError(
                f"could not save the model to {self.uri!r}: {type(err).__name__}: {err}"
            ) from err
        return f"{self.uri.rstrip('/')}/{MODEL_FILE}"


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_strict(value), indent=2, allow_nan=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def _strict(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value
