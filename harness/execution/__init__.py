"""How and where a hop runs: worker processes, the pool, the task cache, the stacks."""
