"""Cross-framework parity harness: round-trips models through ONNX converters and compares every hop."""

__version__ = "0.1.0"


def new_run_id() -> str:
    """A sortable, unique id for one run: UTC time plus a random suffix."""
    import datetime as dt
    import uuid

    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
