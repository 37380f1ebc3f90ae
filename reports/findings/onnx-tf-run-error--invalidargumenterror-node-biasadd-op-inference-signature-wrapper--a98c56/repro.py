"""onnx-tf 1.10.0: Transpose, Shape, Gather, Unsqueeze, Concat, Expand, LSTM, Squeeze the converted model fails to run

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
                value=numpy_helper.from_array(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32).reshape((1, 2, 4)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_1_output_0'],
                name='/0/rnn/Constant_1',
                value=numpy_helper.from_array(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32).reshape((1, 2, 4)), ''),
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
                ['onnx::Concat_79'],
                name='Unsqueeze_23',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_3_output_0'],
                name='/0/rnn/Constant_3',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_209'],
                name='Constant_25',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_209', 'onnx::Concat_79', '/0/rnn/Constant_3_output_0'],
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
                ['onnx::Concat_88'],
                name='Unsqueeze_31',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_5_output_0'],
                name='/0/rnn/Constant_5',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_210'],
                name='Constant_33',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_210', 'onnx::Concat_88', '/0/rnn/Constant_5_output_0'],
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
                ['/0/rnn/Transpose_output_0', 'onnx::LSTM_204', 'onnx::LSTM_205', 'onnx::LSTM_206', '', '/0/rnn/Expand_output_0', '/0/rnn/Expand_1_output_0'],
                ['/0/rnn/LSTM_output_0', '/0/rnn/LSTM_output_1', '/0/rnn/LSTM_output_2'],
                name='/0/rnn/LSTM',
                hidden_size=4,
            ),
            helper.make_node(
                'Squeeze',
                ['/0/rnn/LSTM_output_0'],
                ['/0/rnn/Squeeze_output_0'],
                name='/0/rnn/Squeeze',
                axes=[1],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_6_output_0'],
                name='/0/rnn/Constant_6',
                value=numpy_helper.from_array(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32).reshape((1, 2, 4)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_7_output_0'],
                name='/0/rnn/Constant_7',
                value=numpy_helper.from_array(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32).reshape((1, 2, 4)), ''),
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Squeeze_output_0'],
                ['/0/rnn/Shape_2_output_0'],
                name='/0/rnn/Shape_2',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_8_output_0'],
                name='/0/rnn/Constant_8',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_2_output_0', '/0/rnn/Constant_8_output_0'],
                ['/0/rnn/Gather_2_output_0'],
                name='/0/rnn/Gather_2',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_2_output_0'],
                ['onnx::Concat_165'],
                name='Unsqueeze_43',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_9_output_0'],
                name='/0/rnn/Constant_9',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_233'],
                name='Constant_45',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_233', 'onnx::Concat_165', '/0/rnn/Constant_9_output_0'],
                ['/0/rnn/Concat_2_output_0'],
                name='/0/rnn/Concat_2',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_6_output_0', '/0/rnn/Concat_2_output_0'],
                ['/0/rnn/Expand_2_output_0'],
                name='/0/rnn/Expand_2',
            ),
            helper.make_node(
                'Shape',
                ['/0/rnn/Squeeze_output_0'],
                ['/0/rnn/Shape_3_output_0'],
                name='/0/rnn/Shape_3',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_10_output_0'],
                name='/0/rnn/Constant_10',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Shape_3_output_0', '/0/rnn/Constant_10_output_0'],
                ['/0/rnn/Gather_3_output_0'],
                name='/0/rnn/Gather_3',
            ),
            helper.make_node(
                'Unsqueeze',
                ['/0/rnn/Gather_3_output_0'],
                ['onnx::Concat_174'],
                name='Unsqueeze_51',
                axes=[0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/rnn/Constant_11_output_0'],
                name='/0/rnn/Constant_11',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Concat_234'],
                name='Constant_53',
                value=numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['onnx::Concat_234', 'onnx::Concat_174', '/0/rnn/Constant_11_output_0'],
                ['/0/rnn/Concat_3_output_0'],
                name='/0/rnn/Concat_3',
                axis=0,
            ),
            helper.make_node(
                'Expand',
                ['/0/rnn/Constant_7_output_0', '/0/rnn/Concat_3_output_0'],
                ['/0/rnn/Expand_3_output_0'],
                name='/0/rnn/Expand_3',
            ),
            helper.make_node(
                'LSTM',
                ['/0/rnn/Squeeze_output_0', 'onnx::LSTM_228', 'onnx::LSTM_229', 'onnx::LSTM_230', '', '/0/rnn/Expand_2_output_0', '/0/rnn/Expand_3_output_0'],
                ['/0/rnn/LSTM_1_output_0', '/0/rnn/LSTM_1_output_1', '/0/rnn/LSTM_1_output_2'],
                name='/0/rnn/LSTM_1',
                hidden_size=4,
            ),
            helper.make_node(
                'Squeeze',
                ['/0/rnn/LSTM_1_output_0'],
                ['/0/rnn/Squeeze_1_output_0'],
                name='/0/rnn/Squeeze_1',
                axes=[1],
            ),
            helper.make_node(
                'Transpose',
                ['/0/rnn/Squeeze_1_output_0'],
                ['/0/rnn/Transpose_1_output_0'],
                name='/0/rnn/Transpose_1',
                perm=[1, 0, 2],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/Constant_output_0'],
                name='/0/Constant',
                value=numpy_helper.from_array(np.array([-1], dtype=np.int64).reshape(()), ''),
            ),
            helper.make_node(
                'Gather',
                ['/0/rnn/Transpose_1_output_0', '/0/Constant_output_0'],
                ['y'],
                name='/0/Gather',
                axis=1,
            ),
        ],
        name='main_graph',
        inputs=[
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 6, 6]),
        ],
        outputs=[
            helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 4]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([
                0.42062014, -0.119120836, -0.36224717, 0.41138935, 0.22395605, -0.044605613, 0.31450254,
                -0.43007147, -0.0025328398, -0.35857397, 0.29181153, -0.13208652, -0.26044887, -0.15294379,
                -0.09971249, -0.27390683, -0.09811878, -0.42505836, 0.22976494, -0.055767298, 0.42430776,
                0.41780233, -0.2715971, -0.49763477, 0.46421844, -0.08769345, 0.2783168, 0.2684638,
                -0.0066554546, -0.10015178, 0.038549244, 0.16715765, 0.06851554, -0.3689428, -0.18784612,
                -0.10436171, -0.04059547, 0.46795517, 0.39151394, 0.08919847, 0.058448315, -0.111116946,
                0.42274207, 0.39218825, -0.4354065, 0.14850152, 0.28592283, -0.009643614, 0.18080437,
                -0.06431109, -0.10855144, -0.1319108, 0.07483572, 0.49010688, -0.31945008, 0.31326878,
                0.04762262, 0.20132715, -0.27824074, 0.32125401, -0.36536026, -0.46780694, 0.1749745,
                -0.34904867, -0.37028134, 0.18092692, -0.17283672, 0.051463783, -0.25538754, -0.4425007,
                -0.22058707, -0.31325442, -0.33983892, 0.075234294, 0.12964326, 0.21058267, -0.10803944,
                0.038110077, -0.06572157, 0.30219966, -0.47842354, -0.29325217, -0.1852758, -0.30160886,
                0.09008211, -0.34504855, 0.24234474, 0.4802432, -0.3789764, 0.21967244, -0.036810935,
                0.42662954, -0.43859643, -0.10182631, -0.38961762, 0.42923278,
            ], dtype=np.float32).reshape((1, 16, 6)), 'onnx::LSTM_204'),
            numpy_helper.from_array(np.array([
                0.3230245, -0.40275288, 0.004017353, -0.3917427, 0.22246295, 0.087251544, -0.37526798,
                0.4469589, 0.3628981, 0.08357072, 0.25969905, -0.31799334, 0.33706427, -0.42284054,
                0.33138984, -0.26498622, 0.24642712, 0.4159302, -0.38399923, -0.21638006, -0.12496406,
                -0.10319936, -0.34882718, 0.008941591, 0.41467172, 0.048805535, -0.38359356, 0.20194477,
                0.055663705, -0.45679426, 0.34341657, 0.18040854, -0.14527911, -0.16786647, 0.11760628,
                -0.48583686, -0.0027326345, -0.30188417, -0.26767004, 0.40031224, -0.30489832, -0.21280515,
                0.2789181, -0.34351158, 0.42180932, -0.4856571, 0.34014857, -0.35778803, 0.42618024,
                -0.13076198, 0.25163537, 0.06638026, -0.13172954, -0.42479056, -0.1377899, -0.4181999,
                0.4846409, -0.29793543, -0.114290595, -0.25489908, 0.24604261, -0.1713413, -0.06903714,
                -0.39034468,
            ], dtype=np.float32).reshape((1, 16, 4)), 'onnx::LSTM_205'),
            numpy_helper.from_array(np.array([
                -0.25258976, -0.17385995, -0.25192994, 0.071633935, 0.33872885, -0.23637348, 0.26748437,
                0.39340472, 0.25862253, -0.26745307, -0.35357428, -0.36188447, 0.01857537, 0.095650196,
                0.19342667, -0.17013633, -0.067340136, 0.25923914, 0.254498, -0.102573216, 0.10374367,
                -0.20772535, 0.3247277, -0.04566574, -0.06815034, 0.22084945, 0.42773253, -0.34358585,
                -0.10219616, -0.30065513, 0.12531018, -0.0022069216,
            ], dtype=np.float32).reshape((1, 32)), 'onnx::LSTM_206'),
            numpy_helper.from_array(np.array([
                -0.3079396, 0.27083057, 0.24209732, 0.1771965, 0.28496724, 0.06686288, -0.40976375,
                -0.071730494, 0.28303975, 0.26938748, 0.20119381, -0.1757642, -0.1768716, -0.41944706,
                -0.37647533, -0.40749192, -0.37240595, -0.3246522, 0.022831261, 0.12894028, 0.44959527,
                -0.3457113, -0.25283903, 0.31868005, -0.16678166, -0.1399988, -0.019510686, 0.49420023,
                -0.22931606, -0.41475904, 0.19007891, 0.37420225, -0.42081553, -0.24658984, 0.2843122,
                0.46420056, -0.10261291, -0.033725798, 0.08770579, 0.092350245, 0.38616496, 0.033422112,
                0.34068888, -0.20404446, -0.15847147, -0.33415407, -0.37602645, -0.012696803, 0.13269758,
                -0.3280108, -0.23777932, -0.24696052, -0.42204893, -0.043118775, 0.26912796, 0.34670234,
                -0.4490826, -0.41868174, -0.45248675, -0.012092471, -0.41294074, 0.097402334, 0.17110199,
                0.42445457,
            ], dtype=np.float32).reshape((1, 16, 4)), 'onnx::LSTM_228'),
            numpy_helper.from_array(np.array([
                0.37930703, -0.027333438, 0.19553041, -0.25902563, -0.1871807, 0.17511958, -0.10024649,
                0.4086442, -0.015712738, -0.219325, -0.015193403, -0.19000477, 0.40836442, 0.40880448,
                -0.08861935, -0.41721523, 0.07827711, -0.4863075, -0.4171008, -0.17253429, 0.20206398,
                -0.30225694, 0.3596546, -0.47676092, 0.4144163, -0.27463967, -0.34644908, 0.10359603,
                0.033985972, -0.009325385, 0.41309768, 0.36025727, 0.34307766, 0.3232149, -0.42238593,
                -0.47015476, 0.26448494, -0.27250272, -0.40105903, -0.13441247, 0.35844034, -0.3737365,
                0.27556252, -0.48039502, -0.37385833, -0.1279121, -0.24636918, 0.3872279, -0.41956937,
                0.4421571, -0.24236047, -0.19679558, -0.30760115, 0.16738778, 0.15739721, -0.11935675,
                -0.48824084, 0.14390278, -0.3371716, 0.2602746, 0.48114663, 0.48894954, 0.29403102,
                0.40677637,
            ], dtype=np.float32).reshape((1, 16, 4)), 'onnx::LSTM_229'),
            numpy_helper.from_array(np.array([
                0.34854513, 0.42843264, 0.101303995, 0.16013908, -0.30352694, -0.13045728, -0.43585002,
                0.11450404, -0.26335257, 0.39708364, -0.141128, 0.01697445, 0.09359527, -0.2026006,
                0.3412612, -0.45365214, 0.34449238, -0.1298384, -0.39676964, -0.056718707, 0.07522184,
                -0.4234197, 0.45682025, 0.36770117, -0.22051078, -0.17183554, 0.41359168, 0.41362733,
                0.051835895, -0.23581928, -0.47721577, -0.3734575,
            ], dtype=np.float32).reshape((1, 32)), 'onnx::LSTM_230'),
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
        1.8016349, 1.3151038, 0.35738042, -1.2083186, -0.004454133, 0.65647495, -1.2883614, 0.39512205,
        0.4298637, 0.6960427, -1.1841179, -0.6617026, -0.43643525, -1.169802, 1.7393678, -0.49591073,
        0.32896963, -0.25857255, 1.5834728, 1.320361, 0.63335264, -2.2035098, 0.052028973, 0.6836862,
    ], dtype=np.float32).reshape((2, 6, 6)),
]

# The source model's outputs on INPUTS; onnxruntime and onnx.reference give the same from the ONNX model.
EXPECTED = [
    np.array([0.06913301, -0.17681281, -0.1455954, -0.41763186, 0.09836152, -0.17745909, -0.14799194, -0.43068036], dtype=np.float32).reshape((2, 4)),
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
