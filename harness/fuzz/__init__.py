"""`parity fuzz`: hypothesis draws random valid networks, runs them through every route, shrinks each failure."""
