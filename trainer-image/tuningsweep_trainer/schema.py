"""The fixed schema of the synthetic data, and the shapes of the three model inputs.

Without column flags, one fixed, small schema keeps the synthetic generator, the
partition files and the four architectures in agreement: ``num_*`` numeric features,
``tok_*`` a bag of categorical token ids padded with ``0``, ``hist_*`` a short history
sequence (oldest first) and a continuous ``target``. Files store each vector as scalar
columns so that a plain CSV (or Parquet) file with a header is a valid partition,
readable by any tool.

A user's own table (``--target``/``--numeric``/``--categorical``/``--sequence``, see
:mod:`.columns`) feeds the same three inputs with other widths; :class:`Layout` carries
those widths from the data to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

NUM_NUMERIC = 8
NUM_TOKENS = 8
HISTORY_LENGTH = 10
#: Token ids are in ``[0, VOCAB_SIZE)``; ``0`` is padding.
VOCAB_SIZE = 1000
PAD_TOKEN = 0

NUMERIC_COLUMNS: tuple[str, ...] = tuple(f"num_{i}" for i in range(NUM_NUMERIC))
TOKEN_COLUMNS: tuple[str, ...] = tuple(f"tok_{i}" for i in range(NUM_TOKENS))
HISTORY_COLUMNS: tuple[str, ...] = tuple(f"hist_{i}" for i in range(HISTORY_LENGTH))
TARGET_COLUMN = "target"

#: Column order used when writing partitions.
ALL_COLUMNS: tuple[str, ...] = (
    *NUMERIC_COLUMNS, *TOKEN_COLUMNS, *HISTORY_COLUMNS, TARGET_COLUMN,
)

#: Names of the model inputs (keys of the feature dict fed to Keras).
INPUT_NUMERIC = "numeric"
INPUT_TOKENS = "tokens"
INPUT_HISTORY = "history"


@dataclass(frozen=True)
class Layout:
    """Widths of the model inputs and the size of the categorical id space.

    A width of ``0`` means the input is absent (a user table without a sequence).
    Categorical ids are in ``[0, vocab_size)``, ``0`` being padding.
    """

    numeric: int
    tokens: int
    history: int
    vocab_size: int

    def width(self, name: str) -> int:
        """The width of the input called ``name`` (an ``INPUT_*`` name)."""
        return {INPUT_NUMERIC: self.numeric, INPUT_TOKENS: self.tokens,
                INPUT_HISTORY: self.history}[name]


#: The fixed schema's layout (synthetic data and files without column flags).
FIXED_LAYOUT = Layout(NUM_NUMERIC, NUM_TOKENS, HISTORY_LENGTH, VOCAB_SIZE)
