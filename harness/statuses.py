"""The status vocabulary of a result row, in one place (README "Reading a result")."""

# Worst first: the status a (model, route) cell shows is the worst of its hops.
STATUS_ORDER = ("crash", "timeout", "source_error", "convert_error", "run_error", "mismatch", "xpass", "xfail",
                "skipped", "untested", "pass")
# What a known-failure record may cover, a diff counts as failing, and `parity check` exits 1 on.
FAILING = ("mismatch", "convert_error", "run_error", "crash", "timeout", "source_error")
