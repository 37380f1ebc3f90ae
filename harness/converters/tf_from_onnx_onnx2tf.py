"""onnx2tf, the maintained ONNX -> TensorFlow converter: a TFLite flatbuffer (its default output) and a SavedModel.

Both keep every input's layout as the ONNX graph has it (keep_shape_absolutely_input_names): by default onnx2tf
transposes 4-D and 3-D inputs to channels-last, which would change the model's interface; kept, the artifact
takes the route's NCHW arrays and its outputs keep the ONNX names, so they are matched by name.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from harness.converters.base import Converter
from harness.formats import ONNX, SAVED_MODEL, TFLITE, Format

# The convert_and_run snippet of a localizer's or a finding's repro: onnx2tf's Python call, as its README gives it,
# and the artifact run where a user runs it (LiteRT for the flatbuffer, the serving signature for a SavedModel).
ONNX2TF_SNIPPET = '''

def convert_and_run(model, inputs, input_names, output_names):
    import tempfile

    import onnx
    import onnx2tf

    with tempfile.TemporaryDirectory() as folder:
        onnx.save(model, f"{folder}/model.onnx")
        onnx2tf.convert(input_onnx_file_path=f"{folder}/model.onnx", output_folder_path=f"{folder}/out",
                        non_verbose=True, keep_shape_absolutely_input_names=list(input_names),
                        flatbuffer_direct_output_saved_model=SAVED_MODEL)
        if SAVED_MODEL:
            import tensorflow as tf

            signature = tf.saved_model.load(f"{folder}/out").signatures["serving_default"]
            outputs = {name: value.numpy() for name, value in signature(**inputs).items()}
        else:
            from ai_edge_litert.interpreter import Interpreter

            tflite = next(Path(f"{folder}/out").glob("*_float32.tflite"))
            outputs = Interpreter(model_path=str(tflite)).get_signature_runner()(**inputs)
    return [np.asarray(outputs[name]) for name in output_names]
'''


class Onnx2tfConverter(Converter):
    """What both onnx2tf outputs share: the stack, the call and its record."""

    source = ONNX
    stack = "onnx2tf"  # onnx2tf 2.x needs Python >= 3.12 and pins its own TensorFlow, onnx and numpy
    framework = "tf"
    package = "onnx2tf"
    extra_packages = ("ai-edge-litert",)  # the interpreter a TFLite artifact runs in
    repro_packages = ("numpy", "onnx", "onnx2tf", "tensorflow", "ai-edge-litert")
    # Not yet in the node-case probes nor the opset sweep: a conversion per case costs 1-5 s here, so about
    # 1,000 cases per target would add more than an hour to the published job (the 270 older cells take ten
    # minutes); its zoo routes at the default opsets are published.
    node_cases = False
    opset_sweep = False
    saved_model: ClassVar[bool]

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import onnx
        import onnx2tf

        model = onnx.load(str(source), load_external_data=False)
        graph = model.graph
        initializers = {tensor.name for tensor in graph.initializer}
        inputs = [value.name for value in graph.input if value.name not in initializers]
        target.parent.mkdir(parents=True, exist_ok=True)
        # onnx2tf writes a folder of outputs (both TFLite precisions, a schema, a tensor report): the artifact is
        # taken out of it, so the hop's folder holds what a user ships.
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onnx2tf-") as scratch:
            # onnx2tf saves its shape fixes and onnxsim's simplification over the file it is given: it gets a copy
            # (with its external data), so the previous hop's artifact stays what its converter wrote.
            given = Path(scratch) / "in" / source.name
            given.parent.mkdir()
            for name in {source.name, *external_data_files(model)}:
                shutil.copyfile(source.parent / name, given.parent / name)
            out = Path(scratch) / "out"
            onnx2tf.convert(input_onnx_file_path=str(given), output_folder_path=str(out), non_verbose=True,
                            keep_shape_absolutely_input_names=inputs or None, **self.backend_options(onnx2tf))
            self.take(out, target)

    def backend_options(self, onnx2tf: Any) -> dict[str, Any]:
        """What asks this release for a SavedModel or not. From 2.4 (a `convert(*args, **kwargs)` whose default
        backend is flatbuffer_direct) that is `flatbuffer_direct_output_saved_model`; earlier releases default to
        TensorFlow's converter, which writes the SavedModel beside the TFLite files anyway, and 2.0-2.2 refuse the
        keyword (so `parity releases onnx2tf` can compare them with today's)."""
        import inspect

        parameters = inspect.signature(onnx2tf.convert).parameters
        if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
            return {"flatbuffer_direct_output_saved_model": self.saved_model}
        backend = parameters.get("tflite_backend")
        if backend is not None and backend.default == "flatbuffer_direct":
            return {"flatbuffer_direct_output_saved_model": self.saved_model}
        return {}

    def take(self, out: Path, target: Path) -> None:
        raise NotImplementedError


def external_data_files(model: Any) -> set[str]:
    """The files beside an ONNX model that hold its tensors' data (a dynamo export's model.onnx.data): every tensor
    onnx's own helper finds, subgraphs included, as harness.run.user_model reads them."""
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    return {entry.value for tensor in _get_all_tensors(model) if uses_external_data(tensor)
            for entry in tensor.external_data if entry.key == "location"}


class TfliteFromOnnx(Onnx2tfConverter):
    target: ClassVar[Format] = TFLITE
    saved_model = False
    bare_call = "onnx_to_tflite"
    repro_snippet = "\nSAVED_MODEL = False" + ONNX2TF_SNIPPET

    def take(self, out: Path, target: Path) -> None:
        written = sorted(out.glob("*_float32.tflite"))
        if not written:
            raise RuntimeError(f"onnx2tf reported success but wrote no float32 .tflite (it wrote: "
                               f"{', '.join(sorted(p.name for p in out.iterdir())) or 'nothing'})")
        shutil.move(str(written[0]), target)


class TfFromOnnxViaOnnx2tf(Onnx2tfConverter):
    target: ClassVar[Format] = SAVED_MODEL
    label = "onnx2tf"  # the second ONNX -> SavedModel converter, beside onnx-tf
    saved_model = True
    bare_call = "onnx_to_tf_onnx2tf"
    repro_snippet = "\nSAVED_MODEL = True" + ONNX2TF_SNIPPET

    def take(self, out: Path, target: Path) -> None:
        if not (out / "saved_model.pb").is_file():
            raise RuntimeError("onnx2tf reported success but wrote no saved_model.pb")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("saved_model.pb", "fingerprint.pb", "variables", "assets"):
            if (out / name).exists():
                shutil.move(str(out / name), target / name)

