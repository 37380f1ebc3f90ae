"""Cross-framework parity harness: round-trips models through ONNX converters and compares every hop."""

__version__ = "0.1.0"
