"""The four model families, built with Keras 3 from a trial's hyperparameters.

Every architecture sees the numeric features (they carry most of the signal) and the
categorical inputs, embedded: the fixed schema's ``tok_*`` token ids, or a user table's
``--categorical`` columns (one id space, see :mod:`.preprocess`). The row's ids are
embedded and averaged (padding masked out), a bag of words. What distinguishes the
families is how they read the rest:

* ``mlp``: the numeric features, the bag and the history, flattened, through
  ``num_layers`` dense layers of ``hidden_units``;
* ``bow``: the numeric features and the bag only (no history), then a dense layer; its
  ``embedding_dim`` is tunable;
* ``cnn``: a 1-D convolution (``filters`` x ``kernel_size``) over the history sequence,
  max-pooled, then a dense layer;
* ``lstm``: an LSTM of ``lstm_units`` over the history sequence, then a dense layer.

Architectures without an ``embedding_dim`` hyperparameter embed with
:data:`DEFAULT_EMBEDDING_DIM`. Each ends in ``dropout`` and one linear unit (the target
is continuous; the loss is mean squared error). A model takes only the inputs it uses
and the data has (``input_names``), so the input pipeline feeds exactly those and Keras
never warns about unused inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import schema

#: Model inputs per architecture, in the order the pipeline passes them.
INPUTS: dict[str, tuple[str, ...]] = {
    "mlp": (schema.INPUT_NUMERIC, schema.INPUT_TOKENS, schema.INPUT_HISTORY),
    "bow": (schema.INPUT_NUMERIC, schema.INPUT_TOKENS),
    "cnn": (schema.INPUT_NUMERIC, schema.INPUT_TOKENS, schema.INPUT_HISTORY),
    "lstm": (schema.INPUT_NUMERIC, schema.INPUT_TOKENS, schema.INPUT_HISTORY),
}

#: Embedding size of the categorical inputs where ``embedding_dim`` is not tunable.
DEFAULT_EMBEDDING_DIM = 16


def input_names(architecture: str, layout: schema.Layout = schema.FIXED_LAYOUT) -> tuple[str, ...]:
    """Return the names of the inputs ``architecture`` consumes from data of ``layout``."""
    return tuple(name for name in INPUTS[architecture] if layout.width(name) > 0)


def build_model(
    architecture: str, params: Mapping[str, Any], layout: schema.Layout = schema.FIXED_LAYOUT
) -> Any:
    """Return an uncompiled ``keras.Model`` for ``architecture``.

    Args:
        architecture: ``mlp``, ``bow``, ``cnn`` or ``lstm``.
        params: the trial's full hyperparameters (defaults filled in).
        layout: the widths of the inputs (the fixed schema's by default).

    Raises:
        ValueError: unknown architecture, or ``cnn``/``lstm`` on data without a history.
    """
    import keras
    from keras import layers

    if architecture not in INPUTS:
        raise ValueError(f"unknown architecture {architecture!r}")
    names = input_names(architecture, layout)
    inputs = {name: keras.Input((layout.width(name),), name=name,
                                dtype="int32" if name == schema.INPUT_TOKENS else "float32")
              for name in names}
    hidden = int(params["hidden_units"])
    parts: list[Any] = []
    if schema.INPUT_NUMERIC in inputs:
        parts.append(inputs[schema.INPUT_NUMERIC])
    if schema.INPUT_TOKENS in inputs:
        dim = int(params.get("embedding_dim", DEFAULT_EMBEDDING_DIM))
        embedded = layers.Embedding(layout.vocab_size, dim, mask_zero=True,
                                    name="token_embedding")(inputs[schema.INPUT_TOKENS])
        parts.append(layers.GlobalAveragePooling1D(name="bag_of_words")(embedded))
    history = inputs.get(schema.INPUT_HISTORY)
    if architecture in ("cnn", "lstm") and history is None:
        raise ValueError(f"architecture {architecture!r} needs a history sequence")

    if architecture == "mlp":
        if history is not None:
            parts.append(history)
        x = _joined(layers, parts)
        for i in range(int(params["num_layers"])):
            x = layers.Dense(hidden, activation="relu", name=f"hidden_{i}")(x)
    else:
        if architecture == "cnn":
            sequence = layers.Reshape((layout.history, 1))(history)
            conv = layers.Conv1D(int(params["filters"]), int(params["kernel_size"]),
                                 padding="same", activation="relu", name="conv")(sequence)
            parts.append(layers.GlobalMaxPooling1D()(conv))
        elif architecture == "lstm":
            sequence = layers.Reshape((layout.history, 1))(history)
            parts.append(layers.LSTM(int(params["lstm_units"]), name="lstm")(sequence))
        x = layers.Dense(hidden, activation="relu", name="hidden")(_joined(layers, parts))

    x = layers.Dropout(float(params["dropout"]))(x)
    output = layers.Dense(1, name="prediction")(x)
    return keras.Model(inputs=inputs, outputs=output, name=f"tuningsweep_{architecture}")


def _joined(layers: Any, parts: list[Any]) -> Any:
    """Concatenate the parts (Keras' ``Concatenate`` needs at least two)."""
    return parts[0] if len(parts) == 1 else layers.Concatenate()(parts)
