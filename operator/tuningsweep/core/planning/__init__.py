"""Planning and deciding: windows, the planner, the checks before training, the decisions both executors carry out, trial outcomes and the status."""
