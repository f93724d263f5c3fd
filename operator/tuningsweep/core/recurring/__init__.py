"""Recurring sweeps: a run per schedule slot, its history, and whether the winner changed."""
