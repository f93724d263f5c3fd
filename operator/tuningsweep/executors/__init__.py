"""Executors carry out the decision core's decisions on this machine.

:mod:`.local` runs each trial as a process of the trainer and records its row. It
decides nothing itself: :func:`tuningsweep.core.planning.decisions.decide` says what to start and
when the sweep ends, :func:`tuningsweep.core.planning.outcomes.trial_row` what a finished process
becomes. The Kubernetes side of the same contract is :mod:`tuningsweep.controller`, with
Jobs instead of processes; ``tests/contract`` runs the same scenarios against both.
"""
