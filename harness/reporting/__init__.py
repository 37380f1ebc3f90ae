"""Reports: result tables, the published matrix, coverage, diffs."""
