"""onnxruntime 1.32.0: Add (in a Reshape > InstanceNormalization > Reshape > Mul > Add > Expand > Tile > InstanceNormalization > Pad > MatMul > Add graph) computes different outputs

`torch.onnx.export` (dynamo exporter, torch 2.14.1) exports a small torch model, built in the script.
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
            helper.make_node('Reshape', ['x', 'val_4'], ['val_5'], name='node_Reshape_5', allowzero=0),
            helper.make_node(
                'InstanceNormalization',
                ['val_5', 'val_8', 'val_11'],
                ['val_12'],
                name='node_InstanceNormalization_12',
                epsilon=1.0e-05,
            ),
            helper.make_node(
                'Reshape',
                ['val_12', 'val_13'],
                ['val_14'],
                name='node_Reshape_14',
                allowzero=0,
            ),
            helper.make_node('Mul', ['val_14', 'val_21'], ['val_22'], name='node_Mul_22'),
            helper.make_node('Add', ['val_22', 'val_23'], ['group_norm'], name='node_group_norm'),
            helper.make_node('Expand', ['group_norm', 'val_24'], ['val_25'], name='node_Expand_25'),
            helper.make_node('Tile', ['val_25', 'val_26'], ['repeat'], name='node_repeat'),
            helper.make_node(
                'InstanceNormalization',
                ['repeat', '2.weight', '2.bias'],
                ['instance_norm'],
                name='node_instance_norm',
                epsilon=1.0e-05,
            ),
            helper.make_node(
                'Pad',
                ['instance_norm', 'val_27', 'val_28'],
                ['pad'],
                name='node_pad',
                mode='constant',
            ),
            helper.make_node('MatMul', ['pad', 'val_29'], ['val_30'], name='node_MatMul_30'),
            helper.make_node('Add', ['val_30', '4.bias'], ['y'], name='node_linear'),
        ],
        name='main_graph',
        inputs=[
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 7, 4, 11]),
        ],
        outputs=[
            helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 7, 5, 11]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([1.2846104, 0.6855797, 0.6520079, 0.95932746, 1.0657904, 0.52993107, 1.3451734], dtype=np.float32).reshape((7,)), '2.weight'),
            numpy_helper.from_array(np.array([-0.14603074, -0.22182754, 0.0076419627, -0.08815752, 0.060629148, 0.08850205, 0.17256969], dtype=np.float32).reshape((7,)), '2.bias'),
            numpy_helper.from_array(np.array([
                0.1471105, -0.09492885, 0.063603885, -0.17108558, 0.15137202, -0.06247536, -0.006155204,
                -0.1560006, -0.03260324, 0.092510626, -0.100646324,
            ], dtype=np.float32).reshape((11,)), '4.bias'),
            numpy_helper.from_array(np.array([0, 1, -1], dtype=np.int64).reshape((3,)), 'val_4'),
            numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape((1,)), 'val_8'),
            numpy_helper.from_array(np.array([0.0], dtype=np.float32).reshape((1,)), 'val_11'),
            numpy_helper.from_array(np.array([1.0559714, 1.2061458, 0.6549407, 0.69924897, 1.3475738, 0.78017646, 0.85041803], dtype=np.float32).reshape((7, 1, 1)), 'val_21'),
            numpy_helper.from_array(np.array([-0.026683835, 0.09670281, -0.0014523405, -0.16867465, -0.083857805, 0.09049551, -0.021794805], dtype=np.float32).reshape((7, 1, 1)), 'val_23'),
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
            ], dtype=np.float32).reshape((34, 11)), 'val_29'),
            numpy_helper.from_array(np.array([2, 7, 4, 11], dtype=np.int64).reshape((4,)), 'val_13'),
            numpy_helper.from_array(np.array([1, 1, 1, 1], dtype=np.int64).reshape((4,)), 'val_24'),
            numpy_helper.from_array(np.array([1, 1, 1, 3], dtype=np.int64).reshape((4,)), 'val_26'),
            numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 0, 0], dtype=np.int64).reshape((8,)), 'val_27'),
            numpy_helper.from_array(np.array([0.5], dtype=np.float32).reshape(()), 'val_28'),
        ],
        value_info=[
            helper.make_tensor_value_info('2.weight', TensorProto.FLOAT, [7]),
            helper.make_tensor_value_info('2.bias', TensorProto.FLOAT, [7]),
            helper.make_tensor_value_info('4.bias', TensorProto.FLOAT, [11]),
            helper.make_tensor_value_info('val_4', TensorProto.INT64, [3]),
            helper.make_tensor_value_info('val_8', TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info('val_11', TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info('val_21', TensorProto.FLOAT, [7, 1, 1]),
            helper.make_tensor_value_info('val_23', TensorProto.FLOAT, [7, 1, 1]),
            helper.make_tensor_value_info('val_29', TensorProto.FLOAT, [34, 11]),
            helper.make_tensor_value_info('val_13', TensorProto.INT64, [4]),
            helper.make_tensor_value_info('val_24', TensorProto.INT64, [4]),
            helper.make_tensor_value_info('val_26', TensorProto.INT64, [4]),
            helper.make_tensor_value_info('val_27', TensorProto.INT64, [8]),
            helper.make_tensor_value_info('val_28', TensorProto.FLOAT, []),
            helper.make_tensor_value_info('val_5', TensorProto.FLOAT, [2, 1, 308]),
            helper.make_tensor_value_info('val_12', TensorProto.FLOAT, [2, 1, 308]),
            helper.make_tensor_value_info('val_14', TensorProto.FLOAT, [2, 7, 4, 11]),
            helper.make_tensor_value_info('val_22', TensorProto.FLOAT, [2, 7, 4, 11]),
            helper.make_tensor_value_info('group_norm', TensorProto.FLOAT, [2, 7, 4, 11]),
            helper.make_tensor_value_info('val_25', TensorProto.FLOAT, [2, 7, 4, 11]),
            helper.make_tensor_value_info('repeat', TensorProto.FLOAT, [2, 7, 4, 33]),
            helper.make_tensor_value_info('instance_norm', TensorProto.FLOAT, [2, 7, 4, 33]),
            helper.make_tensor_value_info('pad', TensorProto.FLOAT, [2, 7, 5, 34]),
            helper.make_tensor_value_info('val_30', TensorProto.FLOAT, [2, 7, 5, 11]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 20)], ir_version=10, producer_name='pytorch', producer_version='2.14.1+cu130')

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
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ], dtype=np.float32).reshape((2, 7, 4, 11)),
]

# The source model's outputs on INPUTS; onnx.reference give the same from the ONNX model.
EXPECTED = [
    np.array([
        0.28270808, 0.59242785, 0.10958576, -0.36723495, 0.46129322, 0.03140291, 0.9317024, -0.089888975,
        -0.2199099, 0.31993312, 0.09365266, 0.045218617, -0.28418365, 0.06793491, -0.013579488, 0.032654837,
        0.017344825, -0.2989409, -0.21829619, 0.006961707, -0.035545856, -0.1862945, 0.045218617,
        -0.28418362, 0.06793491, -0.013579503, 0.032654837, 0.017344818, -0.2989409, -0.21829617,
        0.006961707, -0.03554587, -0.1862945, 0.045218617, -0.28418365, 0.06793491, -0.013579488,
        0.032654837, 0.017344825, -0.2989409, -0.21829619, 0.006961707, -0.035545856, -0.1862945,
        0.045218617, -0.28418362, 0.06793491, -0.013579503, 0.032654837, 0.017344818, -0.2989409,
        -0.21829617, 0.006961707, -0.03554587, -0.1862945, 0.28270805, 0.59242785, 0.10958576, -0.36723495,
        0.46129322, 0.031402946, 0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.017354608,
        -0.3870342, 0.06304811, 0.027914003, -0.01763621, 0.01569543, -0.4433291, -0.23336186, 0.033579983,
        -0.0772533, -0.21913996, 0.017354593, -0.38703424, 0.06304811, 0.027914003, -0.01763621, 0.015695415,
        -0.4433291, -0.23336186, 0.033579968, -0.07725331, -0.21913996, 0.017354608, -0.3870342, 0.06304811,
        0.027914003, -0.01763621, 0.01569543, -0.4433291, -0.23336186, 0.033579983, -0.0772533, -0.21913996,
        0.017354593, -0.38703424, 0.06304811, 0.027914003, -0.01763621, 0.015695415, -0.4433291, -0.23336186,
        0.033579968, -0.07725331, -0.21913996, 0.28270808, 0.59242785, 0.10958576, -0.36723495, 0.46129322,
        0.03140291, 0.9317024, -0.089888975, -0.2199099, 0.31993312, 0.09365266, 0.10171072, -0.07566229,
        0.077842474, -0.09770423, 0.13461591, 0.020688847, -0.0062053027, -0.1877517, -0.047004692,
        0.04901263, -0.11970289, 0.10171072, -0.07566229, 0.077842474, -0.09770423, 0.13461591, 0.020688847,
        -0.0062053027, -0.1877517, -0.04700469, 0.049012635, -0.1197029, 0.10171072, -0.07566229,
        0.077842474, -0.09770423, 0.13461591, 0.020688847, -0.0062053027, -0.1877517, -0.047004692,
        0.04901263, -0.11970289, 0.10171072, -0.07566229, 0.077842474, -0.09770423, 0.13461591, 0.020688847,
        -0.0062053027, -0.1877517, -0.04700469, 0.049012635, -0.1197029, 0.28270805, 0.59242785, 0.10958576,
        -0.36723495, 0.46129322, 0.031402946, 0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264,
        0.06649326, -0.20565554, 0.07166605, -0.04526046, 0.07105286, 0.018604167, -0.18869816, -0.2067933,
        -0.013361763, -0.0037015527, -0.16121644, 0.06649326, -0.20565554, 0.07166605, -0.045260444,
        0.071052864, 0.018604167, -0.18869816, -0.20679328, -0.013361763, -0.0037015527, -0.16121644,
        0.06649326, -0.20565554, 0.07166605, -0.04526046, 0.07105286, 0.018604167, -0.18869816, -0.2067933,
        -0.013361763, -0.0037015527, -0.16121644, 0.06649326, -0.20565554, 0.07166605, -0.045260444,
        0.071052864, 0.018604167, -0.18869816, -0.20679328, -0.013361763, -0.0037015527, -0.16121644,
        0.28270808, 0.59242785, 0.10958576, -0.36723495, 0.46129322, 0.03140291, 0.9317024, -0.089888975,
        -0.2199099, 0.31993312, 0.09365266, 0.121189535, -0.0037628636, 0.08125867, -0.12671095, 0.16977271,
        0.021841891, 0.09473172, -0.17721978, -0.06561264, 0.07816892, -0.09674171, 0.121189535,
        -0.0037628636, 0.08125867, -0.12671094, 0.16977271, 0.021841899, 0.09473172, -0.17721978,
        -0.06561264, 0.07816892, -0.09674171, 0.121189535, -0.0037628636, 0.08125867, -0.12671095,
        0.16977271, 0.021841891, 0.09473172, -0.17721978, -0.06561264, 0.07816892, -0.09674171, 0.121189535,
        -0.0037628636, 0.08125867, -0.12671094, 0.16977271, 0.021841899, 0.09473172, -0.17721978,
        -0.06561264, 0.07816892, -0.09674171, 0.28270805, 0.59242785, 0.10958576, -0.36723495, 0.46129322,
        0.031402946, 0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.13143587, 0.034057982,
        0.08305567, -0.14196919, 0.18826604, 0.022448428, 0.14782701, -0.17167974, -0.07540086, 0.09350584,
        -0.08466357, 0.13143586, 0.034057967, 0.08305567, -0.14196917, 0.18826604, 0.022448428, 0.14782701,
        -0.17167974, -0.07540087, 0.09350583, -0.08466357, 0.13143587, 0.034057982, 0.08305567, -0.14196919,
        0.18826604, 0.022448428, 0.14782701, -0.17167974, -0.07540086, 0.09350584, -0.08466357, 0.13143586,
        0.034057967, 0.08305567, -0.14196917, 0.18826604, 0.022448428, 0.14782701, -0.17167974, -0.07540087,
        0.09350583, -0.08466357, 0.28270808, 0.59242785, 0.10958576, -0.36723495, 0.46129322, 0.03140291,
        0.9317024, -0.089888975, -0.2199099, 0.31993312, 0.09365266, 0.16234022, 0.14813086, 0.088475674,
        -0.18799013, 0.2440445, 0.024277784, 0.3079699, -0.15497018, -0.10492352, 0.1397641, -0.048234224,
        0.16234021, 0.1481309, 0.088475674, -0.18799016, 0.2440445, 0.024277791, 0.3079699, -0.15497018,
        -0.10492352, 0.1397641, -0.048234224, 0.16234022, 0.14813086, 0.088475674, -0.18799013, 0.2440445,
        0.024277784, 0.3079699, -0.15497018, -0.10492352, 0.1397641, -0.048234224, 0.16234021, 0.1481309,
        0.088475674, -0.18799016, 0.2440445, 0.024277791, 0.3079699, -0.15497018, -0.10492352, 0.1397641,
        -0.048234224, 0.28270805, 0.59242785, 0.10958576, -0.36723495, 0.46129322, 0.031402946, 0.9317024,
        -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.045218617, -0.28418362, 0.06793491, -0.013579503,
        0.032654837, 0.017344818, -0.2989409, -0.21829617, 0.006961707, -0.03554587, -0.1862945, 0.045218617,
        -0.28418365, 0.06793491, -0.013579488, 0.032654837, 0.017344825, -0.2989409, -0.21829619,
        0.006961707, -0.035545856, -0.1862945, 0.045218617, -0.28418362, 0.06793491, -0.013579503,
        0.032654837, 0.017344818, -0.2989409, -0.21829617, 0.006961707, -0.03554587, -0.1862945, 0.045218617,
        -0.28418365, 0.06793491, -0.013579488, 0.032654837, 0.017344825, -0.2989409, -0.21829619,
        0.006961707, -0.035545856, -0.1862945, 0.28270808, 0.59242785, 0.10958576, -0.36723495, 0.46129322,
        0.03140291, 0.9317024, -0.089888975, -0.2199099, 0.31993312, 0.09365266, 0.017354593, -0.38703424,
        0.06304811, 0.027914003, -0.01763621, 0.015695415, -0.4433291, -0.23336186, 0.033579968, -0.07725331,
        -0.21913996, 0.017354608, -0.3870342, 0.06304811, 0.027914003, -0.01763621, 0.01569543, -0.4433291,
        -0.23336186, 0.033579983, -0.0772533, -0.21913996, 0.017354593, -0.38703424, 0.06304811, 0.027914003,
        -0.01763621, 0.015695415, -0.4433291, -0.23336186, 0.033579968, -0.07725331, -0.21913996,
        0.017354608, -0.3870342, 0.06304811, 0.027914003, -0.01763621, 0.01569543, -0.4433291, -0.23336186,
        0.033579983, -0.0772533, -0.21913996, 0.28270805, 0.59242785, 0.10958576, -0.36723495, 0.46129322,
        0.031402946, 0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.10171072, -0.07566229,
        0.077842474, -0.09770423, 0.13461591, 0.020688847, -0.0062053027, -0.1877517, -0.04700469,
        0.049012635, -0.1197029, 0.10171072, -0.07566229, 0.077842474, -0.09770423, 0.13461591, 0.020688847,
        -0.0062053027, -0.1877517, -0.047004692, 0.04901263, -0.11970289, 0.10171072, -0.07566229,
        0.077842474, -0.09770423, 0.13461591, 0.020688847, -0.0062053027, -0.1877517, -0.04700469,
        0.049012635, -0.1197029, 0.10171072, -0.07566229, 0.077842474, -0.09770423, 0.13461591, 0.020688847,
        -0.0062053027, -0.1877517, -0.047004692, 0.04901263, -0.11970289, 0.28270808, 0.59242785, 0.10958576,
        -0.36723495, 0.46129322, 0.03140291, 0.9317024, -0.089888975, -0.2199099, 0.31993312, 0.09365266,
        0.06649326, -0.20565554, 0.07166605, -0.045260444, 0.071052864, 0.018604167, -0.18869816,
        -0.20679328, -0.013361763, -0.0037015527, -0.16121644, 0.06649326, -0.20565554, 0.07166605,
        -0.04526046, 0.07105286, 0.018604167, -0.18869816, -0.2067933, -0.013361763, -0.0037015527,
        -0.16121644, 0.06649326, -0.20565554, 0.07166605, -0.045260444, 0.071052864, 0.018604167,
        -0.18869816, -0.20679328, -0.013361763, -0.0037015527, -0.16121644, 0.06649326, -0.20565554,
        0.07166605, -0.04526046, 0.07105286, 0.018604167, -0.18869816, -0.2067933, -0.013361763,
        -0.0037015527, -0.16121644, 0.28270805, 0.59242785, 0.10958576, -0.36723495, 0.46129322, 0.031402946,
        0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.121189535, -0.0037628636, 0.08125867,
        -0.12671094, 0.16977271, 0.021841899, 0.09473172, -0.17721978, -0.06561264, 0.07816892, -0.09674171,
        0.121189535, -0.0037628636, 0.08125867, -0.12671095, 0.16977271, 0.021841891, 0.09473172,
        -0.17721978, -0.06561264, 0.07816892, -0.09674171, 0.121189535, -0.0037628636, 0.08125867,
        -0.12671094, 0.16977271, 0.021841899, 0.09473172, -0.17721978, -0.06561264, 0.07816892, -0.09674171,
        0.121189535, -0.0037628636, 0.08125867, -0.12671095, 0.16977271, 0.021841891, 0.09473172,
        -0.17721978, -0.06561264, 0.07816892, -0.09674171, 0.28270808, 0.59242785, 0.10958576, -0.36723495,
        0.46129322, 0.03140291, 0.9317024, -0.089888975, -0.2199099, 0.31993312, 0.09365266, 0.13143586,
        0.034057967, 0.08305567, -0.14196917, 0.18826604, 0.022448428, 0.14782701, -0.17167974, -0.07540087,
        0.09350583, -0.08466357, 0.13143587, 0.034057982, 0.08305567, -0.14196919, 0.18826604, 0.022448428,
        0.14782701, -0.17167974, -0.07540086, 0.09350584, -0.08466357, 0.13143586, 0.034057967, 0.08305567,
        -0.14196917, 0.18826604, 0.022448428, 0.14782701, -0.17167974, -0.07540087, 0.09350583, -0.08466357,
        0.13143587, 0.034057982, 0.08305567, -0.14196919, 0.18826604, 0.022448428, 0.14782701, -0.17167974,
        -0.07540086, 0.09350584, -0.08466357, 0.28270805, 0.59242785, 0.10958576, -0.36723495, 0.46129322,
        0.031402946, 0.9317024, -0.08988896, -0.21990988, 0.31993312, 0.09365264, 0.16234021, 0.1481309,
        0.088475674, -0.18799016, 0.2440445, 0.024277791, 0.3079699, -0.15497018, -0.10492352, 0.1397641,
        -0.048234224, 0.16234022, 0.14813086, 0.088475674, -0.18799013, 0.2440445, 0.024277784, 0.3079699,
        -0.15497018, -0.10492352, 0.1397641, -0.048234224, 0.16234021, 0.1481309, 0.088475674, -0.18799016,
        0.2440445, 0.024277791, 0.3079699, -0.15497018, -0.10492352, 0.1397641, -0.048234224, 0.16234022,
        0.14813086, 0.088475674, -0.18799013, 0.2440445, 0.024277784, 0.3079699, -0.15497018, -0.10492352,
        0.1397641, -0.048234224,
    ], dtype=np.float32).reshape((2, 7, 5, 11)),
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
