"""``tuningsweep report``: which configuration really wins, shown as table, JSON or HTML.

The statistics live in the pure core (:mod:`tuningsweep.core.stats.summary`,
:mod:`~tuningsweep.core.stats.trends`, :mod:`~tuningsweep.core.stats.curves`); this package is the
edge around them:

* :mod:`.sources` reads the results CSV, the resolved spec beside it and trial
  histories (local or ``gs://``);
* :mod:`.objective` decides the metric and goal to rank by;
* :mod:`.model` computes a :class:`~.model.Report` once for every renderer;
* :mod:`.verdict` says in sentences what the numbers mean;
* :mod:`.render_table`, :mod:`.render_json`, :mod:`.render_html` (with :mod:`.plots`
  and :mod:`.svg`) format it;
* :mod:`.command` is the CLI entry: :func:`report_command` and :func:`add_report_parser`.

Importing this package is cheap (no numpy, rich or storage client) so the CLI can
register the subcommand without slowing down other commands.
"""

from tuningsweep.reports.command import add_report_parser, report_command

__all__ = ["add_report_parser", "report_command"]
