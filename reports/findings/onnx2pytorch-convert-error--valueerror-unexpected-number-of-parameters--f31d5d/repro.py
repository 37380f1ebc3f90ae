"""onnx2pytorch 0.6.0: Reshape, Shape, Less, And, Loop, Gather, Expand, ReverseSequence, Concat, Slice, Squeeze fails to convert

The ONNX model onnx2pytorch is given is what tf2onnx (from a Keras model) wrote for a small keras model; it passes onnx.checker.check_model(full_check=True) and strict shape inference. The script builds it inline with onnx.helper, as written.
Needs only numpy, onnx, torch, onnx2pytorch: pip install numpy==2.4.6 onnx==1.23.2 torch==2.14.1 onnx2pytorch==0.6.0
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
                'Reshape',
                ['x', 'new_shape__99'],
                ['fuzzed_1/l0_1/forward_lstm_18_1/transpose:0'],
                name='fuzzed_1/l0_1/forward_lstm_18_1/transpose',
            ),
            helper.make_node(
                'Shape',
                ['fuzzed_1/l0_1/forward_lstm_18_1/transpose:0'],
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Shape__86:0'],
                name='fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Shape__86',
            ),
            helper.make_node(
                'Less',
                ['const_fold_opt__114', 'const_fold_opt__113'],
                ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less:0'],
                name='fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less',
            ),
            helper.make_node(
                'And',
                ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less:0'],
                ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd:0'],
                name='fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd',
            ),
            helper.make_node(
                'Loop',
                ['fuzzed_1/l0_1/backward_lstm_18_1/Max:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/time:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/Cast/ReadVariableOp/resource:0', 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0', 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'],
                ['fuzzed_1/l0_1/forward_lstm_18_1/while_loop:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:1', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:2', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:3', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:4', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:5', 'fuzzed_1/l0_1/forward_lstm_18_1/while_loop:6'],
                name='fuzzed_1/l0_1/forward_lstm_18_1/while_loop',
                body=helper.make_graph(
                                                                                    nodes=[
                                                                                        helper.make_node(
                                                                                            'MatMul',
                                                                                            ['fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder_2:0', 'fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Squeeze',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Squeeze',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/add/y:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_2:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gather',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/transpose:0', 'fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gemm',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem:0', 'fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__75:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__75',
                                                                                            transA=0,
                                                                                            transB=0,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__75:0', 'fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/BiasAdd_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Split',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:1', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:2', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:3'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split',
                                                                                            axis=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:2'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:3'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_2:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:1'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_1:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_1:0', 'fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder_3:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/split:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul_1:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul_1:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_5:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_5:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Sigmoid_2:0', 'fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_4:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/lstm_cell_1/mul_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Identity',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_4:0'],
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            name='fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_2:0'],
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less__79:0'],
                                                                                            name='cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less__79',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1_l0_1_forward_lstm_18_1_while_fuzzed_1_l0_1_forward_lstm_18_1_while_loop_counter:0'],
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1__77:0'],
                                                                                            name='cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1__77',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1__77:0', 'const_fold_opt__123'],
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1:0'],
                                                                                            name='cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less__79:0', 'const_fold_opt__107'],
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less:0'],
                                                                                            name='cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'And',
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less_1:0', 'cond___fuzzed_1/l0_1/forward_lstm_18_1/while/Less:0'],
                                                                                            ['cond___fuzzed_1/l0_1/forward_lstm_18_1/while/LogicalAnd_graph_outputs_Identity__46:0'],
                                                                                            name='cond___fuzzed_1/l0_1/forward_lstm_18_1/while/LogicalAnd',
                                                                                        ),
                                                                                    ],
                                                                                    name='fuzzed_1_l0_1_forward_lstm_18_1_while_body_frozen_121298',
                                                                                    inputs=[
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_fuzzed_1_l0_1_forward_lstm_18_1_while_loop_counter:0', TensorProto.INT64, []),
                                                                                        helper.make_tensor_value_info('cond__82:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder_2:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_placeholder_3:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                    ],
                                                                                    outputs=[
                                                                                        helper.make_tensor_value_info('cond___fuzzed_1/l0_1/forward_lstm_18_1/while/LogicalAnd_graph_outputs_Identity__46:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_2:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_4:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/forward_lstm_18_1/while/Identity_5:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_forward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/forward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem:0', TensorProto.FLOAT, [1, 1]),
                                                                                    ],
                                                                                    initializer=[
                                                                                        numpy_helper.from_array(np.array([1], dtype=np.int32).reshape(()), 'fuzzed_1/l0_1/forward_lstm_18_1/while/add/y:0'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__123'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__107'),
                                                                                    ],
                                                                                ),
            ),
            helper.make_node(
                'Gather',
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Shape__86:0', 'const_axes__98'],
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__87:0'],
                name='fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__87',
            ),
            helper.make_node(
                'Gather',
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Shape__86:0', 'const_0__85'],
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__88:0'],
                name='fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__88',
            ),
            helper.make_node(
                'Expand',
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__88:0', 'fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_Gather__87:0'],
                ['Expand__89:0'],
                name='Expand__89',
            ),
            helper.make_node(
                'ReverseSequence',
                ['fuzzed_1/l0_1/forward_lstm_18_1/transpose:0', 'Expand__89:0'],
                ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2:0'],
                name='fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2_ReverseSequence__90',
                batch_axis=1,
                time_axis=0,
            ),
            helper.make_node(
                'Loop',
                ['fuzzed_1/l0_1/backward_lstm_18_1/Max:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/time:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/Cast/ReadVariableOp/resource:0', 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0', 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'],
                ['fuzzed_1/l0_1/backward_lstm_18_1/while_loop:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:1', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:2', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:3', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:4', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:5', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:6'],
                name='fuzzed_1/l0_1/backward_lstm_18_1/while_loop',
                body=helper.make_graph(
                                                                                    nodes=[
                                                                                        helper.make_node(
                                                                                            'MatMul',
                                                                                            ['fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder_2:0', 'fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Squeeze',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Squeeze',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/add/y:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_2:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gather',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/ReverseV2:0', 'fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gemm',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Read/TensorListGetItem:0', 'fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__76:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__76',
                                                                                            transA=0,
                                                                                            transB=0,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/MatMul_Gemm__76:0', 'fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/BiasAdd_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Split',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:1', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:2', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:3'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split',
                                                                                            axis=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:2'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:3'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_2:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:1'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_1:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_1:0', 'fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder_3:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/split:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul_1:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul_1:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_5:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_5:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Sigmoid_2:0', 'fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/lstm_cell_1/mul_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Identity',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_4:0'],
                                                                                            name='fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_4_graph_outputs_Identity__42',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_2:0'],
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less__64:0'],
                                                                                            name='cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less__64',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1_l0_1_backward_lstm_18_1_while_fuzzed_1_l0_1_backward_lstm_18_1_while_loop_counter:0'],
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1__62:0'],
                                                                                            name='cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1__62',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1__62:0', 'const_fold_opt__120'],
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1:0'],
                                                                                            name='cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less__64:0', 'const_fold_opt__104'],
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less:0'],
                                                                                            name='cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'And',
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less_1:0', 'cond___fuzzed_1/l0_1/backward_lstm_18_1/while/Less:0'],
                                                                                            ['cond___fuzzed_1/l0_1/backward_lstm_18_1/while/LogicalAnd_graph_outputs_Identity__4:0'],
                                                                                            name='cond___fuzzed_1/l0_1/backward_lstm_18_1/while/LogicalAnd',
                                                                                        ),
                                                                                    ],
                                                                                    name='fuzzed_1_l0_1_backward_lstm_18_1_while_body_frozen_121300',
                                                                                    inputs=[
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_fuzzed_1_l0_1_backward_lstm_18_1_while_loop_counter:0', TensorProto.INT64, []),
                                                                                        helper.make_tensor_value_info('cond__91:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder_2:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_placeholder_3:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                    ],
                                                                                    outputs=[
                                                                                        helper.make_tensor_value_info('cond___fuzzed_1/l0_1/backward_lstm_18_1/while/LogicalAnd_graph_outputs_Identity__4:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_2:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_4:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/backward_lstm_18_1/while/Identity_5:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_backward_lstm_18_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1/backward_lstm_18_1/while/TensorArrayV2Write/TensorListSetItem:0', TensorProto.FLOAT, [1, 1]),
                                                                                    ],
                                                                                    initializer=[
                                                                                        numpy_helper.from_array(np.array([1], dtype=np.int32).reshape(()), 'fuzzed_1/l0_1/backward_lstm_18_1/while/add/y:0'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__120'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__104'),
                                                                                    ],
                                                                                ),
            ),
            helper.make_node(
                'Concat',
                ['fuzzed_1/l0_1/forward_lstm_18_1/while_loop:6', 'fuzzed_1/l0_1/backward_lstm_18_1/while_loop:6'],
                ['fuzzed_1/l0_1/concat:0'],
                name='fuzzed_1/l0_1/concat',
                axis=2,
            ),
            helper.make_node(
                'Loop',
                ['fuzzed_1/l0_1/backward_lstm_18_1/Max:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/time:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/Cast/ReadVariableOp/resource:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'],
                ['fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:1', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:2', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:3', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:4', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:5', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:6'],
                name='fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop',
                body=helper.make_graph(
                                                                                    nodes=[
                                                                                        helper.make_node(
                                                                                            'MatMul',
                                                                                            ['fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder_2:0', 'fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Squeeze',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Squeeze',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/add/y:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_2:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gather',
                                                                                            ['fuzzed_1/l0_1/concat:0', 'fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gemm',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem:0', 'fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__81:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__81',
                                                                                            transA=0,
                                                                                            transB=0,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__81:0', 'fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/BiasAdd_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Split',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:1', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:2', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:3'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split',
                                                                                            axis=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:2'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:3'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_2:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:1'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_1:0', 'fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder_3:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/split:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_5:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_5:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Sigmoid_2:0', 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/lstm_cell_1/mul_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Identity',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_4:0'],
                                                                                            name='fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_4_graph_outputs_Identity__56',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_2:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less__69:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less__69',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1_l0_1_2_forward_lstm_19_1_while_fuzzed_1_l0_1_2_forward_lstm_19_1_while_loop_counter:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1__67:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1__67',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1__67:0', 'const_fold_opt__121'],
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less__69:0', 'const_fold_opt__106'],
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'And',
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less_1:0', 'cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/Less:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/LogicalAnd_graph_outputs_Identity__18:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/LogicalAnd',
                                                                                        ),
                                                                                    ],
                                                                                    name='fuzzed_1_l0_1_2_forward_lstm_19_1_while_body_frozen_121302',
                                                                                    inputs=[
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_fuzzed_1_l0_1_2_forward_lstm_19_1_while_loop_counter:0', TensorProto.INT64, []),
                                                                                        helper.make_tensor_value_info('cond__92:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder_2:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_placeholder_3:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [2, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                    ],
                                                                                    outputs=[
                                                                                        helper.make_tensor_value_info('cond___fuzzed_1/l0_1_2/forward_lstm_19_1/while/LogicalAnd_graph_outputs_Identity__18:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_2:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_4:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/forward_lstm_19_1/while/Identity_5:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [2, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_forward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/forward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0', TensorProto.FLOAT, [1, 1]),
                                                                                    ],
                                                                                    initializer=[
                                                                                        numpy_helper.from_array(np.array([1], dtype=np.int32).reshape(()), 'fuzzed_1/l0_1_2/forward_lstm_19_1/while/add/y:0'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__121'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__106'),
                                                                                    ],
                                                                                ),
            ),
            helper.make_node(
                'Loop',
                ['fuzzed_1/l0_1/backward_lstm_18_1/Max:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_cond_frozen_121303_fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/time:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/Cast/ReadVariableOp/resource:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'],
                ['fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:1', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:2', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:3', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:4', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:5', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:6'],
                name='fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop',
                body=helper.make_graph(
                                                                                    nodes=[
                                                                                        helper.make_node(
                                                                                            'MatMul',
                                                                                            ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder_2:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Squeeze',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Squeeze',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/add/y:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_2:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gather',
                                                                                            ['fuzzed_1/l0_1/concat:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Gemm',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Read/TensorListGetItem:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Squeeze:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__66:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__66',
                                                                                            transA=0,
                                                                                            transB=0,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/MatMul_Gemm__66:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/BiasAdd_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Split',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/BiasAdd_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:1', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:2', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:3'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split',
                                                                                            axis=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:2'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:3'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_2:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:1'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_1:0', 'fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder_3:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Sigmoid',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/split:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Add',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_5:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/add',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Tanh',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_5:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Mul',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Sigmoid_2:0', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/Tanh_1:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/lstm_cell_1/mul_2',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Identity',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0'],
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_4:0'],
                                                                                            name='fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_4',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_2:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less__73:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less__73',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Cast',
                                                                                            ['fuzzed_1_l0_1_2_backward_lstm_19_1_while_fuzzed_1_l0_1_2_backward_lstm_19_1_while_loop_counter:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1__71:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1__71',
                                                                                            to=1,
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1__71:0', 'const_fold_opt__122'],
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'Less',
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less__73:0', 'const_fold_opt__105'],
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less',
                                                                                        ),
                                                                                        helper.make_node(
                                                                                            'And',
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less_1:0', 'cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/Less:0'],
                                                                                            ['cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd_graph_outputs_Identity__20:0'],
                                                                                            name='cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd',
                                                                                        ),
                                                                                    ],
                                                                                    name='fuzzed_1_l0_1_2_backward_lstm_19_1_while_body_frozen_121304',
                                                                                    inputs=[
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_fuzzed_1_l0_1_2_backward_lstm_19_1_while_loop_counter:0', TensorProto.INT64, []),
                                                                                        helper.make_tensor_value_info('cond__93:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder_2:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_placeholder_3:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [2, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                    ],
                                                                                    outputs=[
                                                                                        helper.make_tensor_value_info('cond___fuzzed_1/l0_1_2/backward_lstm_19_1/while/LogicalAnd_graph_outputs_Identity__20:0', TensorProto.BOOL, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_2:0', TensorProto.INT32, []),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_4:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/backward_lstm_19_1/while/Identity_5:0', TensorProto.FLOAT, [1, 1]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_readvariableop_resource_0:0', TensorProto.FLOAT, [2, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_cast_1_readvariableop_resource_0:0', TensorProto.FLOAT, [1, 4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1_l0_1_2_backward_lstm_19_1_while_lstm_cell_1_biasadd_1_readvariableop_resource_0:0', TensorProto.FLOAT, [4]),
                                                                                        helper.make_tensor_value_info('fuzzed_1/l0_1_2/backward_lstm_19_1/while/TensorArrayV2Write/TensorListSetItem:0', TensorProto.FLOAT, [1, 1]),
                                                                                    ],
                                                                                    initializer=[
                                                                                        numpy_helper.from_array(np.array([1], dtype=np.int32).reshape(()), 'fuzzed_1/l0_1_2/backward_lstm_19_1/while/add/y:0'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__122'),
                                                                                        numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__105'),
                                                                                    ],
                                                                                ),
            ),
            helper.make_node(
                'Concat',
                ['fuzzed_1/l0_1_2/forward_lstm_19_1/while_loop:6', 'fuzzed_1/l0_1_2/backward_lstm_19_1/while_loop:6'],
                ['fuzzed_1/l0_1_2/concat:0'],
                name='fuzzed_1/l0_1_2/concat',
                axis=2,
            ),
            helper.make_node(
                'Slice',
                ['fuzzed_1/l0_1_2/concat:0', 'const_starts__94', 'const_ends__95', 'const_axes__96'],
                ['fuzzed_1/strided_slice:0'],
                name='fuzzed_1/strided_slice',
            ),
            helper.make_node(
                'Squeeze',
                ['fuzzed_1/strided_slice:0', 'const_axes__98'],
                ['get_item_5'],
                name='fuzzed_1/strided_slice__97',
            ),
        ],
        name='tf2onnx',
        inputs=[
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 1, 1]),
        ],
        outputs=[
            helper.make_tensor_value_info('get_item_5', TensorProto.FLOAT, [1, 2]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64).reshape((3,)), 'new_shape__99'),
            numpy_helper.from_array(np.array([-0.26645768, 0.30626822, 0.9186903, -0.007118702], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([
                -0.8707206, -0.9884825, -0.8869009, -0.14951718, -0.08973849, -0.56845725, 0.66694355,
                0.13265145,
            ], dtype=np.float32).reshape((2, 4)), 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/Cast/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.55011356, 1.6808405, -0.13074994, -0.2139771], dtype=np.float32).reshape((4,)), 'fuzzed_1/l0_1_2/forward_lstm_19_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.0], dtype=np.float32).reshape((1, 1)), 'fuzzed_1/l0_1_2/backward_lstm_19_1/zeros:0'),
            numpy_helper.from_array(np.array([0], dtype=np.int32).reshape(()), 'fuzzed_1/l0_1_2/backward_lstm_19_1/time:0'),
            numpy_helper.from_array(np.array([0.06581485, 0.7540091, -0.98109114, -0.5846703], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.1731776, 0.7592974, -0.7185819, 0.693246, 0.9097388, -0.25528848, 0.9830923, 0.38325822], dtype=np.float32).reshape((2, 4)), 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/Cast/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.48414326, -1.3972706, -0.5403142, -0.52379537], dtype=np.float32).reshape((4,)), 'fuzzed_1/l0_1_2/backward_lstm_19_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.06841135, 0.39212203, -0.12620091, -0.9821594], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.695395, 0.1690638, 0.17351973, 0.21941626], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/Cast/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.17209339, -0.1168021, -0.05998397, -0.9020026], dtype=np.float32).reshape((4,)), 'fuzzed_1/l0_1/forward_lstm_18_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.7013229, -0.38741553, -0.8576312, 0.57342184], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/Cast_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([0.08334446, -0.9768944, -0.15160978, 0.7235228], dtype=np.float32).reshape((1, 4)), 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/Cast/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([-0.38421714, -0.17640305, 0.900125, -0.030367494], dtype=np.float32).reshape((4,)), 'fuzzed_1/l0_1/backward_lstm_18_1/lstm_cell_1/BiasAdd_1/ReadVariableOp/resource:0'),
            numpy_helper.from_array(np.array([1], dtype=np.int64).reshape(()), 'fuzzed_1/l0_1/backward_lstm_18_1/Max:0'),
            numpy_helper.from_array(np.array([0, -1], dtype=np.int64).reshape((2,)), 'const_starts__94'),
            numpy_helper.from_array(np.array([0.0], dtype=np.float32).reshape(()), 'const_fold_opt__114'),
            numpy_helper.from_array(np.array([1.0], dtype=np.float32).reshape(()), 'const_fold_opt__113'),
            numpy_helper.from_array(np.array([2147483647, 2147483647], dtype=np.int64).reshape((2,)), 'const_ends__95'),
            numpy_helper.from_array(np.array([1], dtype=np.int64).reshape((1,)), 'const_axes__98'),
            numpy_helper.from_array(np.array([0, 1], dtype=np.int64).reshape((2,)), 'const_axes__96'),
            numpy_helper.from_array(np.array([0], dtype=np.int64).reshape((1,)), 'const_0__85'),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid('ai.onnx.ml', 2)], ir_version=8, producer_name='tf2onnx', producer_version='1.17.0 None')

INPUTS = [
    np.array([0.12573022], dtype=np.float32).reshape((1, 1, 1)),
]

# The source model's outputs on INPUTS; onnxruntime give the same from the ONNX model.
EXPECTED = [
    np.array([-0.008215499, -0.0915348], dtype=np.float32).reshape((1, 2)),
]

SOURCE = "model.onnx"  # the ONNX model onnx2pytorch is given


def convert_and_run(inputs):
    import onnx
    import torch
    from onnx2pytorch import ConvertModel

    module = ConvertModel(onnx.load(str(HERE / SOURCE))).eval()
    with torch.no_grad():
        outputs = module(*(torch.from_numpy(array) for array in inputs))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [output.numpy() for output in outputs]


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
