"""The cluster side's stand-in trainer: the same one the local tests run.

It pushes to ``TUNINGSWEEP_PUSHGATEWAY`` through :class:`tuningsweep.reporting.Reporter`
(grouping key ``{namespace, sweep, trial}``), as the real trainer does; see
:mod:`tests.local.fake_trainer` for the environment that steers it.
"""

from __future__ import annotations

import sys

from tests.local.fake_trainer import main

if __name__ == "__main__":
    sys.exit(main())
