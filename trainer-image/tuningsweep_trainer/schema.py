"""The columns every data source produces and every model consumes.

One fixed, small schema keeps the synthetic generator, the partition files and the four
architectures in agreement: ``num_*`` numeric features, ``tok_*`` a bag of categorical
token ids padded with ``0``, ``hist_*`` a short history sequence (oldest first) and a
continuous ``target``. Files store each vector as scalar columns so that a plain CSV
(or Parquet) file with a header is a valid partition, readable by any tool.
"""

from __future__ import annotations

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
