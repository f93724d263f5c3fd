"""Namespace patterns as the operator's ``--namespace`` flags accept them.

kopf selects the sweeps it serves by patterns, and the Job watch must select the same
namespaces, so it follows kopf's documented rules (not its private code, which may
change between releases):

* a pattern is comma-separated globs (``*`` and ``?``); spaces around them are ignored;
* a glob starting with ``!`` excludes; a pattern starting with one implies ``*`` first;
* the first glob decides the initial match; a later exclusion removes the namespace; a
  later inclusion brings it back only if the first glob had matched it.

``myapp-*, !*-pr-*, *pr-123`` matches ``myapp-live`` and ``myapp-pr-123`` but neither
``myapp-pr-456`` nor ``otherapp-pr-123``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable


def matches(namespace: str, pattern: str) -> bool:
    """Whether ``namespace`` is selected by one pattern."""
    globs = [glob.strip() for glob in pattern.split(",")]
    if globs[0].startswith("!"):
        globs.insert(0, "*")
    first = fnmatch.fnmatchcase(namespace, globs[0])
    selected = first
    for glob in globs[1:]:
        if glob.startswith("!"):
            selected = selected and not fnmatch.fnmatchcase(namespace, glob[1:])
        else:
            selected = selected or (first and fnmatch.fnmatchcase(namespace, glob))
    return selected


def matches_any(namespace: str, patterns: Iterable[str]) -> bool:
    """Whether any of the patterns selects ``namespace`` (kopf serves their union)."""
    return any(matches(namespace, p) for p in patterns)
