"""``python -m tuningsweep_trainer``: the same as the ``tuningsweep-trainer`` command."""

import sys

from .cli import main

sys.exit(main())
