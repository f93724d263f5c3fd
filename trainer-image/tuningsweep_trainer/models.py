"""The four model families, built with Keras 3 from a trial's hyperparameters.

Every architecture sees the numeric features (they carry most of the signal) and adds
one way of reading the richer inputs, which is what distinguishes the families:

* ``mlp``: the numeric features and the history, flattened, through ``num_layers``
  dense layers of ``hidden_units``;
* ``bow``: a bag of words, the mean ``embedding_dim`` embedding of the row's tokens
  (padding masked out), then a dense layer;
* ``cnn``: a 1-D convolution (``filters`` x ``kernel_size``) over the history sequence,
  max-pooled, then a dense layer;
* ``lstm``: an LSTM of ``lstm_units`` over the history sequence, then a dense layer.

Each ends in ``dropout`` and one linear unit (the target is continuous; the loss is
mean squared error). A model takes only the inputs it uses (``input_names``), so the
input pipeline feeds exactly those and Keras never warns about unused inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import schema

#: Model inputs per architecture, in the order the pipeline passes them.
INPUTS: dict[str, tuple[str, ...]] = {
    "mlp": (schema.INPUT_NUMERIC, schema.INPUT_HISTORY),
    "bow": (schema.INPUT_NUMERIC, schema.INPUT_TOKENS),
    "cnn": (schema.INPUT_NUMERIC, schema.INPUT_HISTORY),
    "lstm": (schema.INPUT_NUMERIC, schema.INPUT_HISTORY),
}


def input_names(architecture: str) -> tuple[str, ...]:
    """Return the names of the inputs ``architecture`` consumes."""
    return INPUTS[architecture]


def build_model(architecture: str, params: Mapping[str, Any]) -> Any:
    """Return an uncompiled ``keras.Model`` for ``architecture``.

    Args:
        architecture: ``mlp``, ``bow``, ``cnn`` or ``lstm``.
        params: the trial's full hyperparameters (defaults filled in).
    """
    import keras
    from keras import layers

    inputs = {
        schema.INPUT_NUMERIC: keras.Input((schema.NUM_NUMERIC,), name=schema.INPUT_NUMERIC),
        schema.INPUT_TOKENS: keras.Input((schema.NUM_TOKENS,), dtype="int32",
                                         name=schema.INPUT_TOKENS),
        schema.INPUT_HISTORY: keras.Input((schema.HISTORY_LENGTH,), name=schema.INPUT_HISTORY),
    }
    numeric = inputs[schema.INPUT_NUMERIC]
    history = inputs[schema.INPUT_HISTORY]
    hidden = int(params["hidden_units"])

    if architecture == "mlp":
        x = layers.Concatenate()([numeric, history])
        for i in range(int(params["num_layers"])):
            x = layers.Dense(hidden, activation="relu", name=f"hidden_{i}")(x)
    elif architecture == "bow":
        embedded = layers.Embedding(schema.VOCAB_SIZE, int(params["embedding_dim"]),
                                    mask_zero=True, name="token_embedding")(
            inputs[schema.INPUT_TOKENS])
        bag = layers.GlobalAveragePooling1D(name="bag_of_words")(embedded)
        x = layers.Concatenate()([numeric, bag])
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    elif architecture == "cnn":
        sequence = layers.Reshape((schema.HISTORY_LENGTH, 1))(history)
        conv = layers.Conv1D(int(params["filters"]), int(params["kernel_size"]),
                             padding="same", activation="relu", name="conv")(sequence)
        pooled = layers.GlobalMaxPooling1D()(conv)
        x = layers.Concatenate()([numeric, pooled])
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    elif architecture == "lstm":
        sequence = layers.Reshape((schema.HISTORY_LENGTH, 1))(history)
        state = layers.LSTM(int(params["lstm_units"]), name="lstm")(sequence)
        x = layers.Concatenate()([numeric, state])
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    else:
        raise ValueError(f"unknown architecture {architecture!r}")

    x = layers.Dropout(float(params["dropout"]))(x)
    output = layers.Dense(1, name="prediction")(x)
    used = {name: inputs[name] for name in INPUTS[architecture]}
    return keras.Model(inputs=used, outputs=output, name=f"tuningsweep_{architecture}")
