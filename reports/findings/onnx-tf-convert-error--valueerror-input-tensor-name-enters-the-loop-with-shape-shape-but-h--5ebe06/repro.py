"""onnx-tf 1.10.0: Transpose, Shape, Gather, Unsqueeze, Concat, Expand, LSTM, Reshape, ConstantOfShape, Tile, CumSum, ReduceMax fails to convert

The ONNX model onnx-tf is given is what torch.onnx.export wrote for a small torch model; it passes onnx.checker.check_model(full_check=True) and strict shape inference. The script builds it inline with onnx.helper, as written.
Needs only numpy, onnx, tensorflow, onnx-tf: pip install numpy==1.26.4 onnx==1.15.0 tensorflow==2.15.1 onnx-tf==1.10.0
Run it from any folder: python repro.py
Exit 1 while the bug is there, 0 once it is fixed.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAMES = ['x']
OUTPUT_NAMES = ['y']
# A scratch folder for the files the converter reads and writes, removed at exit.
HERE = Path(tempfile.mkdtemp(prefix="repro-"))


def build_model():
    graph = helper.make_graph(
        nodes=[
            helper.make_node(
                'Transpose',
                ['x'],
                ['/0/rnn/Transpose_output_0'],
                name='/0/rnn/Transpose',
                perm=[1, 0, 2],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_output_0'],
                name='/0/rnn/Constant',
                value=numpy_helper.from_array(np.array([0.0, 0.0], dtype=np.float32).reshape((2, 1, 1)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_1_output_0'],
                name='/0/rnn/Constant_1',
                value=numpy_helper.from_array(np.array([0.0, 0.0], dtype=np.float32).reshape((2, 1, 1)), ''),
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Transpose_output_0'],
                ['/0/rnn/Shape_output_0'],
                name='/0/rnn/Shape',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_2_output_0'],
                name='/0/rnn/Constant_2',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_output_0', '/0/rnn/Constant_2_output_0'],
                ['/0/rnn/Gather_output_0'],
                name='/0/rnn/Gather',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_output_0'],
                ['onnx::Concat_146'],
                name='Unsqueeze_27',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_3_output_0'],
                name='/0/rnn/Constant_3',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_368'],
                name='Constant_29',
                value=numpy_helper.from_array(np.array([2], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_368', 'onnx::Concat_146', '/0/rnn/Constant_3_output_0'],
                ['/0/rnn/Concat_output_0'],
                name='/0/rnn/Concat',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_output_0', '/0/rnn/Concat_output_0'],
                ['/0/rnn/Expand_output_0'],
                name='/0/rnn/Expand',
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Transpose_output_0'],
                ['/0/rnn/Shape_1_output_0'],
                name='/0/rnn/Shape_1',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_4_output_0'],
                name='/0/rnn/Constant_4',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_1_output_0', '/0/rnn/Constant_4_output_0'],
                ['/0/rnn/Gather_1_output_0'],
                name='/0/rnn/Gather_1',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_1_output_0'],
                ['onnx::Concat_155'],
                name='Unsqueeze_35',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_5_output_0'],
                name='/0/rnn/Constant_5',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_369'],
                name='Constant_37',
                value=numpy_helper.from_array(np.array([2], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_369', 'onnx::Concat_155', '/0/rnn/Constant_5_output_0'],
                ['/0/rnn/Concat_1_output_0'],
                name='/0/rnn/Concat_1',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_1_output_0', '/0/rnn/Concat_1_output_0'],
                ['/0/rnn/Expand_1_output_0'],
                name='/0/rnn/Expand_1',
            ),
            helper.make_node(
                'LSTM',
                ['/0/rnn/Transpose_output_0', 'onnx::LSTM_364', 'onnx::LSTM_365', 'onnx::LSTM_363', '', '/0/rnn/Expand_output_0', '/0/rnn/Expand_1_output_0'],
                ['/0/rnn/LSTM_output_0', '/0/rnn/LSTM_output_1', '/0/rnn/LSTM_output_2'],
                name='/0/rnn/LSTM',
                direction='bidirectional',
                hidden_size=1,
            ),
            helper.make_node(
                'Transpose',
                ['/0/rnn/LSTM_output_0'],
                ['/0/rnn/Transpose_1_output_0'],
                name='/0/rnn/Transpose_1',
                perm=[0, 2, 1, 3],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_6_output_0'],
                name='/0/rnn/Constant_6',
                value=numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64).reshape((3,)), ''),
            ),
            helper.make_node(
                'Reshape',
                ['/0/rnn/Transpose_1_output_0', '/0/rnn/Constant_6_output_0'],
                ['/0/rnn/Reshape_output_0'],
                name='/0/rnn/Reshape',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_7_output_0'],
                name='/0/rnn/Constant_7',
                value=numpy_helper.from_array(np.array([0.0, 0.0], dtype=np.float32).reshape((2, 1, 1)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_8_output_0'],
                name='/0/rnn/Constant_8',
                value=numpy_helper.from_array(np.array([0.0, 0.0], dtype=np.float32).reshape((2, 1, 1)), ''),
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Reshape_output_0'],
                ['/0/rnn/Shape_2_output_0'],
                name='/0/rnn/Shape_2',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_9_output_0'],
                name='/0/rnn/Constant_9',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_2_output_0', '/0/rnn/Constant_9_output_0'],
                ['/0/rnn/Gather_2_output_0'],
                name='/0/rnn/Gather_2',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_2_output_0'],
                ['onnx::Concat_293'],
                name='Unsqueeze_49',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_10_output_0'],
                name='/0/rnn/Constant_10',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_415'],
                name='Constant_51',
                value=numpy_helper.from_array(np.array([2], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_415', 'onnx::Concat_293', '/0/rnn/Constant_10_output_0'],
                ['/0/rnn/Concat_2_output_0'],
                name='/0/rnn/Concat_2',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_7_output_0', '/0/rnn/Concat_2_output_0'],
                ['/0/rnn/Expand_2_output_0'],
                name='/0/rnn/Expand_2',
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Reshape_output_0'],
                ['/0/rnn/Shape_3_output_0'],
                name='/0/rnn/Shape_3',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_11_output_0'],
                name='/0/rnn/Constant_11',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_3_output_0', '/0/rnn/Constant_11_output_0'],
                ['/0/rnn/Gather_3_output_0'],
                name='/0/rnn/Gather_3',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_3_output_0'],
                ['onnx::Concat_302'],
                name='Unsqueeze_57',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_12_output_0'],
                name='/0/rnn/Constant_12',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_416'],
                name='Constant_59',
                value=numpy_helper.from_array(np.array([2], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_416', 'onnx::Concat_302', '/0/rnn/Constant_12_output_0'],
                ['/0/rnn/Concat_3_output_0'],
                name='/0/rnn/Concat_3',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_8_output_0', '/0/rnn/Concat_3_output_0'],
                ['/0/rnn/Expand_3_output_0'],
                name='/0/rnn/Expand_3',
            ),
            helper.make_node(
                'LSTM',
                ['/0/rnn/Reshape_output_0', 'onnx::LSTM_411', 'onnx::LSTM_412', 'onnx::LSTM_410', '', '/0/rnn/Expand_2_output_0', '/0/rnn/Expand_3_output_0'],
                ['/0/rnn/LSTM_1_output_0', '/0/rnn/LSTM_1_output_1', '/0/rnn/LSTM_1_output_2'],
                name='/0/rnn/LSTM_1',
                direction='bidirectional',
                hidden_size=1,
            ),
            helper.make_node(
                'Transpose',
                ['/0/rnn/LSTM_1_output_0'],
                ['/0/rnn/Transpose_2_output_0'],
                name='/0/rnn/Transpose_2',
                perm=[0, 2, 1, 3],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_13_output_0'],
                name='/0/rnn/Constant_13',
                value=numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64).reshape((3,)), ''),
            ),
            helper.make_node(
                'Reshape',
                ['/0/rnn/Transpose_2_output_0', '/0/rnn/Constant_13_output_0'],
                ['/0/rnn/Reshape_1_output_0'],
                name='/0/rnn/Reshape_1',
            ),
            helper.make_node(
                'Transpose',
                ['/0/rnn/Reshape_1_output_0'],
                ['/0/rnn/Transpose_3_output_0'],
                name='/0/rnn/Transpose_3',
                perm=[1, 0, 2],
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Tile_315'],
                name='Constant_67',
                value=numpy_helper.from_array(np.array([1, 1, 2], dtype=np.int64).reshape((3,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/1/Constant_output_0'],
                name='/1/Constant',
                value=numpy_helper.from_array(np.array([3], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'ConstantOfShape',
                ['/1/Constant_output_0'],
                ['/1/ConstantOfShape_output_0'],
                name='/1/ConstantOfShape',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Transpose_3_output_0', '/1/ConstantOfShape_output_0'],
                ['/1/Expand_output_0'],
                name='/1/Expand',
            ),
            helper.make_node(
                'Tile',
                ['/1/Expand_output_0', 'onnx::Tile_315'],
                ['/1/Tile_output_0'],
                name='/1/Tile',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/2/Constant_output_0'],
                name='/2/Constant',
                value=numpy_helper.from_array(np.array([2], dtype=np.int32).reshape(()), ''),
            ),
            helper.make_node(
                'CumSum',
                ['/1/Tile_output_0', '/2/Constant_output_0'],
                ['/2/CumSum_output_0'],
                name='/2/CumSum',
            ),
            helper.make_node(
                'ReduceMax',
                ['/2/CumSum_output_0'],
                ['y'],
                name='/3/ReduceMax',
                axes=[2],
                keepdims=1,
            ),
        ],
        name='main_graph',
        inputs=[
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 6, 9]),
        ],
        outputs=[
            helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 6, 1]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([
                -0.71154654, 0.60764766, 0.9656708, -0.94026375, 0.9721712, 0.60239494, -0.7677196,
                0.60107255, -0.9020704, -0.5674696, -0.94646287, 0.08274186, -0.73017514, 0.36276793,
                -0.11871469, -0.9019681,
            ], dtype=np.float32).reshape((2, 8)), 'onnx::LSTM_363'),
            numpy_helper.from_array(np.array([
                0.4545083, -0.20121384, 0.2933135, 0.34618282, -0.8629769, -0.85489666, -0.023433328,
                -0.31381297, 0.74771714, 0.47339618, 0.24162412, -0.35418248, 0.2331034, 0.7985214,
                -0.91780233, 0.16031075, -0.96336186, 0.8385713, 0.99612236, 0.52562404, -0.22575855,
                0.30491257, -0.80763674, 0.46434963, 0.9589809, 0.46940112, -0.5963491, -0.27025115,
                0.5803405, 0.011780381, 0.6644583, 0.69409037, -0.42226613, -0.54458976, 0.5044137,
                -0.6343355, 0.5945715, 0.47133398, -0.5990257, -0.26318312, 0.7751914, -0.39960074,
                0.91288555, 0.07556772, -0.2636565, -0.43286192, -0.26992512, 0.24077606, 0.46398997,
                0.12539911, 0.1333735, -0.4560355, -0.5798509, -0.739113, 0.69466674, 0.05285144, 0.71034217,
                0.1790936, 0.509207, -0.5255581, -0.8050822, 0.4700383, 0.029147267, 0.72246706, 0.070910454,
                -0.02807498, -0.46027315, -0.9875028, 0.19675457, 0.7736554, -0.37048757, 0.71148944,
            ], dtype=np.float32).reshape((2, 4, 9)), 'onnx::LSTM_364'),
            numpy_helper.from_array(np.array([-0.8029069, 0.64872634, 0.88672304, -0.5875299, -0.9249928, 0.6434529, 0.6158141, 0.22219372], dtype=np.float32).reshape((2, 4, 1)), 'onnx::LSTM_365'),
            numpy_helper.from_array(np.array([
                -0.990381, -0.60267127, 0.24513578, 0.6477884, -0.9885056, -0.8510083, -0.384807,
                -0.43706656, 0.61615443, 0.54629374, 0.46549356, 0.22390401, 0.30028033, 0.3648616,
                -0.0008150339, 0.4798119,
            ], dtype=np.float32).reshape((2, 8)), 'onnx::LSTM_410'),
            numpy_helper.from_array(np.array([
                -0.64123726, 0.74119675, 0.08318007, -0.8450656, 0.96361387, 0.4909438, -0.062925935,
                -0.1546979, -0.5920937, -0.5870975, -0.84069526, 0.16231728, 0.13814092, 0.42509353,
                0.44032264, -0.42030752,
            ], dtype=np.float32).reshape((2, 4, 2)), 'onnx::LSTM_411'),
            numpy_helper.from_array(np.array([
                0.246984, -0.11796439, 0.8264462, -0.8287591, 0.36172736, -0.2221806, -0.3606981,
                -0.16540885,
            ], dtype=np.float32).reshape((2, 4, 1)), 'onnx::LSTM_412'),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 12)], ir_version=7, producer_name='pytorch', producer_version='2.14.1')

INPUTS = [
    np.array([
        0.12573022, -0.13210486, 0.64042264, 0.104900114, -0.5356694, 0.36159506, 1.304, 0.94708097,
        -0.70373523, -1.2654215, -0.62327445, 0.04132598, -2.3250308, -0.21879166, -1.245911, -0.7322674,
        -0.544259, -0.31630015, 0.41163054, 1.0425134, -0.12853466, 1.3664634, -0.6651947, 0.35151008,
        0.90347016, 0.0940123, -0.7434993, -0.9217254, -0.45772582, 0.22019513, -1.0096182, -0.20917557,
        -0.15922502, 0.5408456, 0.21465912, 0.3553727, -0.6538286, -0.12961364, 0.7839755, 1.4934311,
        -1.2590655, 1.5139238, 1.3458754, 0.7813114, 0.26445562, -0.31392282, 1.4580207, 1.9602584,
        1.8016349, 1.3151038, 0.35738042, -1.2083186, -0.004454133, 0.65647495,
    ], dtype=np.float32).reshape((1, 6, 9)),
]

# The source model's outputs on INPUTS; onnxruntime and onnx.reference give the same from the ONNX model.
EXPECTED = [
    np.array([0.9991318, 1.0322345, 0.97827625, 0.963446, 0.8692893, 0.5903892], dtype=np.float32).reshape((1, 6, 1)),
]

SOURCE = "model.onnx"  # the ONNX model onnx-tf is given


def convert_and_run(inputs):
    import onnx
    from onnx_tf.backend import prepare

    model = onnx.load(str(HERE / SOURCE))
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    rep = prepare(model)
    with tempfile.TemporaryDirectory() as folder:
        rep.export_graph(folder)  # the SavedModel a TF Serving user deploys
    return list(rep.run(dict(zip(names, inputs))))


def run_onnx(path, inputs, opset=None):
    """Check the written model strictly (at the opset asked for, when one was), then run onnx.reference on it."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    written = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        raise RuntimeError(f"{path.name}: the converter wrote opset {written}, not {opset} as asked")
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))


# -- the tolerance rule and error line of parity's verdict, verbatim ------------------------------

NOISE_FACTOR = 8.0
TRUTH_DISAGREEMENT = 0.001
# torch.testing.assert_close's (atol, rtol) per dtype; other dtypes (integers, bool) are exact.
DEFAULTS = {'float16': (1e-05, 0.001), 'bfloat16': (1e-05, 0.016), 'float32': (1e-05, 1.3e-06), 'float64': (1e-07, 1e-07)}


def tolerance_rule(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float,
                   truth: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The one tolerance rule of every verdict (parity's docs/tolerance.md), element by element; generated repros
    embed this function verbatim. reference and candidate have one shape; truth, when given, is the float64 truth of
    that shape. Rows are the leading axis (one example of a batch); rank 0 and 1: each element is its own row.

    Returns arrays of the reference's shape: failing; error (against what the element was judged by); allowed;
    by_truth (judged against the truth); own_noise (the reference's error against the truth); pooled_noise
    (own_noise's largest along the last axis); noise (what K multiplies); row_scale; ambiguous (integer elements
    where the reference disagrees with the truth); set_aside (rows whose truth disagrees with the reference
    beyond float32 rounding); disagreement (|reference - truth|)."""
    ref = np.asarray(reference).astype(np.float64)
    cand = np.asarray(candidate).astype(np.float64)
    zero, nothing = np.zeros(ref.shape), np.zeros(ref.shape, dtype=bool)

    def per_row(values: np.ndarray) -> np.ndarray:  # the largest value of each element's row
        if values.ndim < 2 or values.size == 0:
            return values
        rows = values.reshape(values.shape[0], -1).max(axis=1)
        return np.broadcast_to(rows.reshape((-1,) + (1,) * (values.ndim - 1)), values.shape)

    def per_last_axis(values: np.ndarray) -> np.ndarray:  # the largest value along the last axis
        if values.ndim < 2 or values.size == 0:
            return values
        return np.broadcast_to(values.max(axis=-1, keepdims=True), values.shape)

    found = {"by_truth": nothing, "own_noise": zero, "pooled_noise": zero, "noise": zero, "row_scale": zero + 1.0,
             "ambiguous": nothing, "set_aside": nothing, "disagreement": zero}
    if np.asarray(reference).dtype.kind not in "fc":
        # Integers and bools are exact. Where the reference itself disagrees with the truth the element is
        # ambiguous: the candidate may give either value there, and the row says so.
        exact = ref if truth is None else np.asarray(truth).astype(np.float64)
        ambiguous = ref != exact
        agrees = (cand == ref) | (ambiguous & (cand == exact))
        return {**found, "failing": ~agrees, "error": np.where(agrees, 0.0, np.inf), "allowed": zero,
                "ambiguous": ambiguous}
    finite_ref, finite_cand = np.isfinite(ref), np.isfinite(cand)
    # A candidate that repeats the reference's NaN or Inf does what the source does.
    same_nonfinite = ~finite_ref & ((np.isnan(ref) & np.isnan(cand)) | (ref == cand))
    safe_ref, safe_cand = np.where(finite_ref, ref, 0.0), np.where(finite_cand, cand, 0.0)
    error = np.where(finite_ref & finite_cand, np.abs(safe_cand - safe_ref), np.inf)
    # Without a truth: atol in units of the row's scale (float32 rounding in a layer grows with the magnitude of
    # what it sums), per row so one large example of a batch does not loosen the others.
    row_scale = np.maximum(1.0, per_row(np.abs(safe_ref)))
    float32_allowed = atol * row_scale + rtol * np.abs(safe_ref)
    allowed = float32_allowed
    found["row_scale"] = row_scale
    if truth is not None:
        exact = np.asarray(truth).astype(np.float64)
        usable = np.isfinite(exact)  # where the truth is finite it is the basis, even where the reference is not
        safe_truth = np.where(usable, exact, 0.0)
        disagreement = np.where(usable & finite_ref, np.abs(safe_ref - safe_truth), 0.0)
        set_aside = per_row(disagreement) > TRUTH_DISAGREEMENT * np.maximum(1.0, per_row(np.abs(safe_truth)))
        by_truth = usable & ~set_aside
        own_noise = np.where(by_truth, disagreement, 0.0)
        # An element's allowance is its own noise; the noise pooled along the last axis (one token, one logit
        # vector) counts only up to the float32 rule's allowance, so a cancelling element loosens no other
        # element beyond what the float32 reference rule allows anyway.
        pooled_noise = per_last_axis(own_noise)
        noise = np.maximum(own_noise, np.minimum(pooled_noise, float32_allowed / NOISE_FACTOR))
        error = np.where(by_truth, np.where(finite_cand, np.abs(safe_cand - safe_truth), np.inf), error)
        allowed = np.where(by_truth, np.maximum(atol + rtol * np.abs(safe_truth), NOISE_FACTOR * noise), allowed)
        found.update(by_truth=by_truth, own_noise=own_noise, pooled_noise=pooled_noise, noise=noise,
                     set_aside=set_aside, disagreement=disagreement)
    failing = ~same_nonfinite & (error > allowed)
    return {**found, "failing": failing, "error": np.where(same_nonfinite, 0.0, error), "allowed": allowed}


ANSI_ESCAPE = re.compile('\\x1b\\[[0-9;]*m')
NAMED_ERROR = re.compile("^\\s*(<class '[\\w.]+'>|[\\w.]*(Error|Exception)):")


def describe_error(exc: BaseException) -> str:
    """The error's class and its most telling line.

    TensorFlow ("in user code:") and torch.export ("## Exception summary") put the real cause at the
    end of a long message; there the last line naming an error is more telling than the first line.
    """
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in str(exc).strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(exc).__name__
    telling = lines[0]
    if len(lines) > 1 and (telling.endswith(":") or "Exception summary" in str(exc)):
        named = [line for line in lines[1:] if NAMED_ERROR.match(line)]
        telling = named[-1] if named else lines[-1]
    if not telling.startswith(f"{type(exc).__name__}:"):
        telling = f"{type(exc).__name__}: {telling}"
    return telling[:500]



def show(label, array):
    print(f"{label} ({array.dtype}, shape {list(array.shape)}):")
    print(np.array2string(array, precision=7, threshold=48, edgeitems=4))


def within_tolerance(name, expected, produced):
    """The verdict without a float64 truth: tolerance_rule (above, verbatim) at the dtype's defaults."""
    if expected.shape != produced.shape:
        print(f"{name}: shape {list(produced.shape)}, expected {list(expected.shape)}")
        return False
    if expected.dtype != produced.dtype and not (expected.dtype.kind == produced.dtype.kind == "f"):
        print(f"{name}: dtype {produced.dtype}, expected {expected.dtype}")
        return False
    atol, rtol = DEFAULTS.get(expected.dtype.name, (0.0, 0.0))
    judged = tolerance_rule(expected, produced, atol, rtol)
    failing = judged["failing"]
    worst = float(judged["error"][failing].max()) if failing.any() else float(judged["error"].max(initial=0.0))
    print(f"{name}: max abs err {worst:.6g}" + (f", {int(failing.sum())} element(s) beyond tolerance"
                                                if failing.any() else ""))
    return not bool(failing.any())


def main():
    try:
        onnx.save(build_model(), str(HERE / SOURCE))
        try:
            produced = convert_and_run(INPUTS)
        except Exception as exc:
            print(f"FAILED: {describe_error(exc)}")
            return 1
        produced = [np.asarray(output) for output in produced]
        for name, want, got in zip(OUTPUT_NAMES, EXPECTED, produced):
            show(f"expected {name}", want)
            show(f"actual {name}", got)
        if len(produced) < len(EXPECTED):
            print(f"FAILED: {len(produced)} outputs, expected {len(EXPECTED)}")
            return 1
        ok = all([within_tolerance(name, want, got) for name, want, got in zip(OUTPUT_NAMES, EXPECTED, produced)])
        print("outputs match" if ok else "FAILED: outputs beyond tolerance")
        return 0 if ok else 1
    finally:
        shutil.rmtree(HERE, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
