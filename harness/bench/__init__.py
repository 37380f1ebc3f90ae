"""`parity bench`: the harness timed against a bare script making the same converter calls."""
