"""onnxruntime 1.32.0: Add (in a Reshape > InstanceNormalization > Shape > Reshape > Mul > Add > ConstantOfShape > Expand > Tile > InstanceNormalization > ConstantOfShape > Concat > Reshape > Slice > …

`torch.onnx.export` (TorchScript exporter, torch 2.14.1) exports a small torch model, built in the script.
Needs only numpy, onnx, onnxruntime: pip install numpy==2.4.6 onnx==1.23.2 onnxruntime==1.32.0
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
                'Constant',
                [],
                ['/0/Constant_output_0'],
                name='/0/Constant',
                value=numpy_helper.from_array(np.array([0, 1, -1], dtype=np.int64).reshape((3,)), ''),
            ),
            helper.make_node(
                'Reshape',
                ['x', '/0/Constant_output_0'],
                ['/0/Reshape_output_0'],
                name='/0/Reshape',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/Constant_1_output_0'],
                name='/0/Constant_1',
                value=numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/0/Constant_2_output_0'],
                name='/0/Constant_2',
                value=numpy_helper.from_array(np.array([0.0], dtype=np.float32).reshape((1,)), ''),
            ),
            helper.make_node(
                'InstanceNormalization',
                ['/0/Reshape_output_0', '/0/Constant_1_output_0', '/0/Constant_2_output_0'],
                ['/0/InstanceNormalization_output_0'],
                name='/0/InstanceNormalization',
                epsilon=1.0e-05,
            ),
            helper.make_node('Shape', ['x'], ['/0/Shape_output_0'], name='/0/Shape'),
            helper.make_node(
                'Reshape',
                ['/0/InstanceNormalization_output_0', '/0/Shape_output_0'],
                ['/0/Reshape_1_output_0'],
                name='/0/Reshape_1',
            ),
            helper.make_node(
                'Mul',
                ['/0/Reshape_1_output_0', 'onnx::Mul_51'],
                ['/0/Mul_output_0'],
                name='/0/Mul',
            ),
            helper.make_node('Add', ['/0/Mul_output_0', 'onnx::Add_52'], ['/0/Add_output_0'], name='/0/Add'),
            helper.make_node(
                'Constant',
                [],
                ['onnx::Tile_18'],
                name='Constant_23',
                value=numpy_helper.from_array(np.array([1, 1, 1, 3], dtype=np.int64).reshape((4,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/1/Constant_output_0'],
                name='/1/Constant',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
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
                ['/0/Add_output_0', '/1/ConstantOfShape_output_0'],
                ['/1/Expand_output_0'],
                name='/1/Expand',
            ),
            helper.make_node(
                'Tile',
                ['/1/Expand_output_0', 'onnx::Tile_18'],
                ['/1/Tile_output_0'],
                name='/1/Tile',
            ),
            helper.make_node(
                'InstanceNormalization',
                ['/1/Tile_output_0', '2.weight', '2.bias'],
                ['/2/InstanceNormalization_output_0'],
                name='/2/InstanceNormalization',
                epsilon=1.0e-05,
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_output_0'],
                name='/3/Constant',
                value=numpy_helper.from_array(np.array([4], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_1_output_0'],
                name='/3/Constant_1',
                value=numpy_helper.from_array(np.array([1, 0, 1, 0], dtype=np.int64).reshape((4,)), ''),
            ),
            helper.make_node(
                'ConstantOfShape',
                ['/3/Constant_output_0'],
                ['/3/ConstantOfShape_output_0'],
                name='/3/ConstantOfShape',
                value=numpy_helper.from_array(np.array([0], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Concat',
                ['/3/Constant_1_output_0', '/3/ConstantOfShape_output_0'],
                ['/3/Concat_output_0'],
                name='/3/Concat',
                axis=0,
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_2_output_0'],
                name='/3/Constant_2',
                value=numpy_helper.from_array(np.array([-1, 2], dtype=np.int64).reshape((2,)), ''),
            ),
            helper.make_node(
                'Reshape',
                ['/3/Concat_output_0', '/3/Constant_2_output_0'],
                ['/3/Reshape_output_0'],
                name='/3/Reshape',
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_3_output_0'],
                name='/3/Constant_3',
                value=numpy_helper.from_array(np.array([0], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_4_output_0'],
                name='/3/Constant_4',
                value=numpy_helper.from_array(np.array([-1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_5_output_0'],
                name='/3/Constant_5',
                value=numpy_helper.from_array(np.array([-9223372036854775807], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_6_output_0'],
                name='/3/Constant_6',
                value=numpy_helper.from_array(np.array([-1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Slice',
                ['/3/Reshape_output_0', '/3/Constant_4_output_0', '/3/Constant_5_output_0', '/3/Constant_3_output_0', '/3/Constant_6_output_0'],
                ['/3/Slice_output_0'],
                name='/3/Slice',
            ),
            helper.make_node(
                'Transpose',
                ['/3/Slice_output_0'],
                ['/3/Transpose_output_0'],
                name='/3/Transpose',
                perm=[1, 0],
            ),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_7_output_0'],
                name='/3/Constant_7',
                value=numpy_helper.from_array(np.array([-1], dtype=np.int64).reshape((1,)), ''),
            ),
            helper.make_node(
                'Reshape',
                ['/3/Transpose_output_0', '/3/Constant_7_output_0'],
                ['/3/Reshape_1_output_0'],
                name='/3/Reshape_1',
            ),
            helper.make_node('Cast', ['/3/Reshape_1_output_0'], ['/3/Cast_output_0'], name='/3/Cast', to=7),
            helper.make_node(
                'Constant',
                [],
                ['/3/Constant_8_output_0'],
                name='/3/Constant_8',
                value=numpy_helper.from_array(np.array([0.0], dtype=np.float32).reshape(()), ''),
            ),
            helper.make_node(
                'Pad',
                ['/2/InstanceNormalization_output_0', '/3/Cast_output_0', '/3/Constant_8_output_0'],
                ['/3/Pad_output_0'],
                name='/3/Pad',
                mode='constant',
            ),
            helper.make_node(
                'MatMul',
                ['/3/Pad_output_0', 'onnx::MatMul_59'],
                ['/4/MatMul_output_0'],
                name='/4/MatMul',
            ),
            helper.make_node('Add', ['4.bias', '/4/MatMul_output_0'], ['y'], name='/4/Add'),
        ],
        name='main_graph',
        inputs=[
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 7, 4, 11]),
        ],
        outputs=[
            helper.make_tensor_value_info('y', TensorProto.FLOAT, ['Addy_dim_0', 'Addy_dim_1', 'Addy_dim_2', 11]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([1.2846104, 0.6855797, 0.6520079, 0.95932746, 1.0657904, 0.52993107, 1.3451734], dtype=np.float32).reshape((7,)), '2.weight'),
            numpy_helper.from_array(np.array([-0.14603074, -0.22182754, 0.0076419627, -0.08815752, 0.060629148, 0.08850205, 0.17256969], dtype=np.float32).reshape((7,)), '2.bias'),
            numpy_helper.from_array(np.array([
                0.1471105, -0.09492885, 0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204,
                -0.1560006, -0.03260324, 0.092510626, -0.100646324,
            ], dtype=np.float32).reshape((11,)), '4.bias'),
            numpy_helper.from_array(np.array([1.0559714, 1.2061458, 0.6549407, 0.69924897, 1.3475738, 0.78017646, 0.85041803], dtype=np.float32).reshape((7, 1, 1)), 'onnx::Mul_51'),
            numpy_helper.from_array(np.array([-0.026683835, 0.09670281, -0.0014523405, -0.16867465, -0.083857805, 0.09049551, -0.021794805], dtype=np.float32).reshape((7, 1, 1)), 'onnx::Add_52'),
            numpy_helper.from_array(np.array([
                -0.09641815, 0.01779406, 0.027491799, 0.15512957, -0.04365302, 0.16599584, -0.029215021,
                -0.066540085, -0.02343552, -0.09540597, -0.044736195, -0.13005227, 0.06235151, -0.15012738,
                -0.092278376, -0.16430299, -0.06279816, -0.04898804, 0.112953745, -0.10028184, 0.10217385,
                0.06902389, -0.07520467, -0.100502945, 0.06533569, -0.12763394, -0.11112123, 0.075470485,
                0.07241056, 0.07363993, 0.14660259, 0.13553344, -0.114291266, -0.13073288, -0.015574921,
                -0.088003024, -0.15539354, 0.16334163, -0.14982286, 0.13038568, -0.1209266, 0.10745738,
                0.12156436, -0.03241712, -0.16572192, 0.10228912, -0.010579293, 0.15748684, -0.06187872,
                -0.14274754, 0.07014771, -0.10028931, 0.10326226, 0.11217412, 0.14356966, 0.1157701,
                0.089264244, 0.012784019, -0.031607937, 0.12148158, -0.111980475, 0.09208338, -0.15413342,
                -0.03688723, 0.024180897, -0.109087475, 0.086983696, 0.15101443, 0.15278691, 0.16850664,
                -0.099880606, 0.101316646, 0.0010520188, -0.07773988, 0.06124331, 0.07942575, -0.07017881,
                0.04182557, 0.16853952, 0.07042062, -0.08791041, 0.09101599, 0.07185699, 0.04288227,
                0.1702848, -0.097408734, -0.12604888, -0.050137416, 0.1524307, -0.012559092, 0.08209499,
                0.025729362, 0.062174812, 0.0021539421, -0.027135251, 0.05328245, 0.15679377, 0.11110959,
                0.0819831, 0.15234847, 0.10771428, 0.15749282, -0.12172906, 0.15908797, -0.16669288,
                0.15114348, -0.16005242, 0.06002283, 0.091318995, 0.1353803, 0.05661347, -0.036214285,
                -0.017846173, -0.14590394, 0.03408747, 0.05199872, 0.056023963, 0.094665505, -0.034563966,
                0.03739453, 0.07240412, 0.04447506, 0.009135849, -0.026421461, 0.06568717, -0.05009992,
                -0.0306969, -0.1159377, 0.15643238, -0.026761878, -0.16324654, 0.04293694, 0.108978875,
                0.117322125, 0.15242161, -0.14587855, 0.1537969, -0.12365057, 0.07973, -0.047883686,
                -0.1277388, 0.16153847, -0.024100756, -0.021861194, 0.115193985, -0.07029763, -0.059207883,
                -0.10056837, -0.08888345, 0.058837455, -0.10855873, -0.033298325, -0.029506944, 0.06085133,
                -0.16182126, -0.025934929, 0.13524295, -0.017881704, -0.07249992, 0.07002553, 0.095856324,
                -0.15759942, 0.0042017787, -0.062126275, 0.08845919, 0.022667043, -0.023847615, 0.11414446,
                -0.16708267, -0.02002522, 0.008787746, 0.063653626, 0.030908804, 0.14070879, -0.12941468,
                -0.15742251, -0.1384637, 0.067521974, -0.16743259, 0.09995758, -0.03435979, -0.07455101,
                0.1479404, 0.0519241, -0.06264184, 0.008472946, -0.08427326, -0.16445555, 0.06851095,
                -0.046190944, -0.009387354, -0.024726186, -0.036211424, 0.070502274, 0.019252367,
                -0.08518006, -0.0665879, -0.014521655, 0.0071649035, 0.073050566, -0.040877204, -0.053580817,
                0.1286836, -0.00790666, -0.07532564, -0.05330954, 0.13694376, -0.0031260445, -0.036298595,
                0.0062980885, -0.12494557, -0.038874283, 0.09915443, 0.044540748, -0.035159446, 0.01975462,
                0.101686075, 0.13638526, 0.008371582, 0.04821901, -0.06909316, 0.0680116, 0.07187147,
                0.0020189285, -0.012502195, 0.05220872, 0.08915262, 0.15858364, -0.018617144, -0.08656287,
                0.025506316, 0.11241821, 0.11922066, 0.028702648, -0.118163, 0.0346713, 0.17127554,
                0.075371824, 0.042363785, -0.113255955, -0.0908286, 0.023837598, -0.13411157, -0.012864773,
                -0.12995312, -0.17090513, 0.045626316, 0.04566391, 0.07235835, 0.10931089, -0.07123516,
                0.02300517, 0.065123685, 0.07047251, 0.08063975, 0.04509123, 0.17063719, -0.052360624,
                -0.15429074, -0.035715386, -0.056157973, -0.08580643, -0.030223371, -0.07722648,
                -0.0140146995, -0.044397984, 0.02024013, -0.16776034, -0.11167894, 0.022271939, 0.16124174,
                0.048747923, 0.10434834, -0.09055649, -0.054442193, 0.10472349, -0.06910084, -0.093278386,
                -0.00925876, 0.16161075, 0.09595018, 0.121766225, 0.04451456, -0.109830216, 0.15549813,
                0.106685914, 0.07604104, 0.014216382, -0.09943689, 0.09076399, 0.07137183, 0.12367,
                0.16886313, 0.11069255, -0.0072965436, 0.0016366624, -0.060219176, -0.048306245, 0.15452775,
                0.087470815, -0.07674216, 0.090654865, 0.116832465, 0.08778858, -0.05850593, 0.094966814,
                0.091334775, 0.16393955, 0.10421682, 0.06849285, 0.0018026899, 0.057798542, -0.036637705,
                0.040381145, -0.012819346, -0.15003248, -0.025476815, 0.06284845, 0.040915824, -0.086971305,
                -0.13082656, 0.051756985, 0.15707438, -0.0617409, 0.15230143, 0.048049323, -0.11068419,
                -0.12769353, -0.008599536, -0.076869816, 0.075464375, 0.12536485, -0.011012506, 0.03155239,
                0.10813269, -0.11259548, 0.053023323, 0.00034266565, -0.060857303, -0.09091585, -0.00502427,
                0.14577755, 0.12057969, -0.10091097, 0.011950794, -0.1103651, 0.09470685, -0.049156316,
                -0.050198052, -0.1521645, -0.0024018488, 0.05931442, 0.16295423, -0.049112137, -0.01457988,
                0.09920038, 0.1575527, -0.09517647, 0.13691036, 0.14679605, -0.16766942, 0.035479702,
                0.011901851, 0.060799506, 0.11983895, -0.079366356, -0.026641319, 0.16041273, 0.11805257,
                0.103078656, 0.07845274, -0.05944892, 0.16733535, 0.15979226,
            ], dtype=np.float32).reshape((34, 11)), 'onnx::MatMul_59'),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 12)], ir_version=7, producer_name='pytorch', producer_version='2.14.1')

INPUTS = [
    np.array([
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ], dtype=np.float32).reshape((1, 7, 4, 11)),
]

# The source model's outputs on INPUTS; onnx.reference give the same from the ONNX model.
EXPECTED = [
    np.array([
        0.1471105, -0.09492885, 0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204, -0.1560006,
        -0.03260324, 0.092510626, -0.100646324, 0.09342769, -0.29308066, 0.05418901, -0.09114427,
        0.054481342, -0.065653086, -0.28433338, -0.18502614, 0.018679466, 0.012157127, -0.1639264,
        0.09342769, -0.29308066, 0.054189008, -0.091144286, 0.054481342, -0.0656531, -0.28433338,
        -0.18502614, 0.018679466, 0.012157127, -0.1639264, 0.09342769, -0.29308066, 0.05418901, -0.09114427,
        0.054481342, -0.065653086, -0.28433338, -0.18502614, 0.018679466, 0.012157127, -0.1639264,
        0.09342769, -0.29308066, 0.054189008, -0.091144286, 0.054481342, -0.0656531, -0.28433338,
        -0.18502614, 0.018679466, 0.012157127, -0.1639264, 0.1471105, -0.09492885, 0.063603885, -0.17108558,
        0.15137202, -0.06247536, -0.006155204, -0.1560006, -0.03260324, 0.092510626, -0.100646324,
        0.06556367, -0.39593124, 0.049302213, -0.04965079, 0.004190311, -0.0673025, -0.4287216, -0.20009181,
        0.045297734, -0.029550299, -0.19677186, 0.06556368, -0.39593124, 0.049302213, -0.04965078,
        0.004190296, -0.0673025, -0.4287216, -0.20009181, 0.045297734, -0.029550314, -0.19677188, 0.06556367,
        -0.39593124, 0.049302213, -0.04965079, 0.004190311, -0.0673025, -0.4287216, -0.20009181, 0.045297734,
        -0.029550299, -0.19677186, 0.06556368, -0.39593124, 0.049302213, -0.04965078, 0.004190296,
        -0.0673025, -0.4287216, -0.20009181, 0.045297734, -0.029550314, -0.19677188, 0.1471105, -0.09492885,
        0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204, -0.1560006, -0.03260324,
        0.092510626, -0.100646324, 0.1499198, -0.08455932, 0.06409658, -0.17526901, 0.15644242, -0.062309068,
        0.008402207, -0.15448165, -0.03528693, 0.09671563, -0.0973348, 0.1499198, -0.08455932, 0.06409658,
        -0.17526901, 0.15644242, -0.062309068, 0.008402208, -0.15448165, -0.03528693, 0.09671562, -0.0973348,
        0.1499198, -0.08455932, 0.06409658, -0.17526901, 0.15644242, -0.062309068, 0.008402207, -0.15448165,
        -0.03528693, 0.09671563, -0.0973348, 0.1499198, -0.08455932, 0.06409658, -0.17526901, 0.15644242,
        -0.062309068, 0.008402208, -0.15448165, -0.03528693, 0.09671562, -0.0973348, 0.1471105, -0.09492885,
        0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204, -0.1560006, -0.03260324,
        0.092510626, -0.100646324, 0.114702344, -0.21455258, 0.057920143, -0.12282522, 0.09287937,
        -0.06439375, -0.17409064, -0.17352325, -0.0016440004, 0.044001423, -0.13884833, 0.11470234,
        -0.21455258, 0.057920143, -0.12282522, 0.09287937, -0.06439375, -0.17409064, -0.17352323,
        -0.0016440041, 0.044001427, -0.13884833, 0.114702344, -0.21455258, 0.057920143, -0.12282522,
        0.09287937, -0.06439375, -0.17409064, -0.17352325, -0.0016440004, 0.044001423, -0.13884833,
        0.11470234, -0.21455258, 0.057920143, -0.12282522, 0.09287937, -0.06439375, -0.17409064, -0.17352323,
        -0.0016440041, 0.044001427, -0.13884833, 0.1471105, -0.09492885, 0.063603885, -0.17108558,
        0.15137202, -0.06247536, -0.006155204, -0.1560006, -0.03260324, 0.092510626, -0.100646324, 0.1693986,
        -0.012659885, 0.06751277, -0.20427573, 0.19159922, -0.061156023, 0.10933922, -0.14394973,
        -0.053894877, 0.1258719, -0.07437362, 0.1693986, -0.012659892, 0.067512766, -0.20427573, 0.19159922,
        -0.061156023, 0.10933922, -0.14394973, -0.053894874, 0.12587191, -0.07437362, 0.1693986,
        -0.012659885, 0.06751277, -0.20427573, 0.19159922, -0.061156023, 0.10933922, -0.14394973,
        -0.053894877, 0.1258719, -0.07437362, 0.1693986, -0.012659892, 0.067512766, -0.20427573, 0.19159922,
        -0.061156023, 0.10933922, -0.14394973, -0.053894874, 0.12587191, -0.07437362, 0.1471105, -0.09492885,
        0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204, -0.1560006, -0.03260324,
        0.092510626, -0.100646324, 0.17964494, 0.025160939, 0.06930977, -0.21953396, 0.21009254,
        -0.060549494, 0.16243453, -0.13840969, -0.0636831, 0.14120883, -0.062295474, 0.17964494, 0.025160931,
        0.06930977, -0.21953396, 0.21009254, -0.060549494, 0.16243453, -0.13840969, -0.06368311, 0.14120883,
        -0.062295474, 0.17964494, 0.025160939, 0.06930977, -0.21953396, 0.21009254, -0.060549494, 0.16243453,
        -0.13840969, -0.0636831, 0.14120883, -0.062295474, 0.17964494, 0.025160931, 0.06930977, -0.21953396,
        0.21009254, -0.060549494, 0.16243453, -0.13840969, -0.06368311, 0.14120883, -0.062295474, 0.1471105,
        -0.09492885, 0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204, -0.1560006,
        -0.03260324, 0.092510626, -0.100646324, 0.2105493, 0.13923386, 0.07472977, -0.2655549, 0.265871,
        -0.05872012, 0.32257742, -0.12170014, -0.09320576, 0.18746708, -0.025866129, 0.2105493, 0.13923386,
        0.07472978, -0.26555493, 0.265871, -0.058720127, 0.32257742, -0.12170014, -0.09320576, 0.18746708,
        -0.025866121, 0.2105493, 0.13923386, 0.07472977, -0.2655549, 0.265871, -0.05872012, 0.32257742,
        -0.12170014, -0.09320576, 0.18746708, -0.025866129, 0.2105493, 0.13923386, 0.07472978, -0.26555493,
        0.265871, -0.058720127, 0.32257742, -0.12170014, -0.09320576, 0.18746708, -0.025866121,
    ], dtype=np.float32).reshape((1, 7, 5, 11)),
]

SOURCE = "model.onnx"  # the model built above, as onnxruntime loads it


def convert_and_run(inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(HERE / SOURCE), providers=["CPUExecutionProvider"])
    names = [value.name for value in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


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
