"""``tuningsweep report RESULTS``: registered here like every command; built in ``reports``.

The report is a subsystem of its own (:mod:`tuningsweep.reports`); its command module
keeps its heavy imports inside the handler, so registering it stays cheap.
"""

from __future__ import annotations

from ..reports.command import add_report_parser as add_parser

__all__ = ["add_parser"]
