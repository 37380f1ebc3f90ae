"""Artifact formats: what a file on disk holds, and which framework family it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str  # short name used in route ids: torch, keras, tf, onnx, tflite
    filename: str  # the file or directory a hop writes inside its folder
    family: str  # frameworks of one family are one "side" of a round trip


TORCH = Format("torch", "torch_module", "torch")
KERAS = Format("keras", "model.keras", "tf")
SAVED_MODEL = Format("tf", "saved_model", "tf")
ONNX = Format("onnx", "model.onnx", "onnx")
TFLITE = Format("tflite", "model.tflite", "tf")  # a TFLite flatbuffer: a deploy target, no converter reads it back

FORMATS = {fmt.name: fmt for fmt in (TORCH, KERAS, SAVED_MODEL, ONNX, TFLITE)}
SOURCE_FORMATS = (TORCH, KERAS)  # zoo twins are built in these
