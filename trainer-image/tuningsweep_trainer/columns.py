"""Which columns of a table the trainer reads, and in which role.

Without flags the trainer reads the fixed schema (:mod:`.schema`). With
``--target COL`` and ``--numeric``/``--categorical``/``--sequence COL,COL...`` it reads a
user's own table: the named columns only, every other column (text included) ignored.
The flags are ordinary arguments, so a sweep passes them as ``spec.trainer.args``.

Roles, and what the models make of them:

* ``target``: the continuous value to predict (a row without one is dropped);
* ``numeric``: numbers, normalised on the training split;
* ``categorical``: any values (text or numbers, compared as text), each column with its
  own vocabulary from the training split, embedded by every architecture;
* ``sequence``: numbers forming one ordered series (oldest first), read by ``cnn`` and
  ``lstm`` as a sequence and by ``mlp`` as features (the fixed schema's ``hist_*``);
* ``token_ids`` (fixed schema only): ``tok_*``, ids already in ``[0, VOCAB_SIZE)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import schema

#: Architectures that read the sequence input and so need one.
SEQUENCE_ARCHITECTURES = ("cnn", "lstm")

#: Flag name -> role, in the order roles are reported.
FLAGS = {"target": "--target", "numeric": "--numeric", "categorical": "--categorical",
         "sequence": "--sequence"}


@dataclass(frozen=True)
class ColumnSpec:
    """The columns a trial reads, by role (see the module docstring)."""

    target: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    sequence: tuple[str, ...] = ()
    token_ids: tuple[str, ...] = ()

    @property
    def fixed(self) -> bool:
        """Whether this is the fixed schema (no column flags given)."""
        return self == FIXED

    @property
    def number_columns(self) -> tuple[str, ...]:
        """Columns read as numbers: target, numeric, sequence and token ids."""
        return (self.target, *self.numeric, *self.sequence, *self.token_ids)

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every column read, numbers first, then categorical."""
        return (*self.number_columns, *self.categorical)

    def role(self, column: str) -> str:
        """The flag that names ``column`` (for messages), or the fixed schema's name."""
        if self.fixed:
            return "the fixed schema"
        for role, flag in FLAGS.items():
            value = getattr(self, role)
            if column == value or (isinstance(value, tuple) and column in value):
                return flag
        return "no flag"


FIXED = ColumnSpec(
    target=schema.TARGET_COLUMN, numeric=schema.NUMERIC_COLUMNS,
    sequence=schema.HISTORY_COLUMNS, token_ids=schema.TOKEN_COLUMNS,
)

#: How the fixed schema is described in messages.
FIXED_DESCRIPTION = ("the fixed schema needs num_0..num_7, tok_0..tok_7, hist_0..hist_9 and "
                     "target; for other columns pass --target COL and --numeric/--categorical "
                     "COL,COL...")


def parse_columns(
    target: str | None, numeric: str | None, categorical: str | None, sequence: str | None,
    architecture: str, problems: list[str],
) -> ColumnSpec:
    """Build the spec from the flags' raw values (``None`` = not given).

    Appends one message per problem to ``problems`` and returns :data:`FIXED` then.
    """
    lists = {"numeric": _names(numeric, "--numeric", problems),
             "categorical": _names(categorical, "--categorical", problems),
             "sequence": _names(sequence, "--sequence", problems)}
    target = (target or "").strip()
    if not target and not any(raw is not None for raw in (numeric, categorical, sequence)):
        return FIXED
    before = len(problems)
    if not target:
        problems.append("--numeric/--categorical/--sequence need --target COL, the column to "
                        "predict")
    if not any(lists.values()):
        problems.append("--target needs input columns: --numeric COL,COL... and/or "
                        "--categorical COL,COL...")
    seen: dict[str, str] = {target: "--target"} if target else {}
    for role, names in lists.items():
        for name in names:
            if name in seen:
                problems.append(f"column {name!r} is given to both {seen[name]} and "
                                f"{FLAGS[role]}; give each column one role")
            seen[name] = FLAGS[role]
    if architecture in SEQUENCE_ARCHITECTURES and not lists["sequence"]:
        problems.append(f"architecture {architecture!r} reads a sequence: name its columns, "
                        "oldest first, with --sequence COL,COL..., or use mlp or bow")
    if len(problems) > before:
        return FIXED
    return ColumnSpec(target=target, numeric=lists["numeric"],
                      categorical=lists["categorical"], sequence=lists["sequence"])


def _names(raw: str | None, flag: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = [n.strip() for n in raw.split(",")]
    if not all(names):
        problems.append(f"{flag} {raw!r} has an empty column name; separate names with "
                        "single commas")
    names = [n for n in names if n]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(f"{flag} names {', '.join(map(repr, twice))} more than once")
    return tuple(dict.fromkeys(names))
