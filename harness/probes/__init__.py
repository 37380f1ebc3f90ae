"""Operator probes: tiny per-operator models pushed through each hop of the harness as coverage data."""
