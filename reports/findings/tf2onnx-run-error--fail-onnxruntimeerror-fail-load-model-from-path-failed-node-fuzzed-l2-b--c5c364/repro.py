"""tf2onnx 1.17.0: Min, Max, Transpose, Reshape, ConvTranspose the converted model fails to run

tf2onnx 1.17.0 (OnnxFromKeras) converts a small Keras model, built in the script with its weights inline.
Needs only numpy, tensorflow, keras, tf2onnx, onnx: pip install numpy==2.4.6 tensorflow==2.21.0 keras==3.15.1 tf2onnx==1.17.0 onnx==1.23.2
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
import keras

INPUT_NAMES = ['x']
OUTPUT_NAMES = ['y']
# A scratch folder for the files the converter reads and writes, removed at exit.
HERE = Path(tempfile.mkdtemp(prefix="repro-"))




INPUTS = [
    np.array([
        0.12573022, 0.78758824, 1.2969154, -1.3752024, 0.54709566, -1.1568301, -0.13210486, 0.84407866,
        -0.34567252, 1.9984815, 1.763759, -1.3648796, 0.64042264, 0.07559361, 0.8545842, 0.94686157,
        -0.4867612, -0.23122594, 0.104900114, -1.4267739, -0.48896906, -0.37920105, 0.09415416, 2.2775006,
        -0.5356694, -0.1350451, 1.7606673, -0.81865984, -0.70552796, 0.27754036, 0.36159506, -0.7695146,
        0.19921799, -0.96901244, -1.176257, 0.76291883, 1.304, -1.4227418, -0.3820023, 0.12337844,
        -0.71310794, 0.21271835, 0.94708097, 0.2584528, 2.552424, -0.6480163, -0.34499854, 0.7829822,
        -0.70373523, -0.56854945, -0.32447186, -0.764874, 1.355438, -1.3430886, -1.2654215, -1.0298045,
        -1.2212234, 0.8112544, 0.0022116026, -0.43051198, -0.62327445, -1.043001, 0.20191, 0.36456734,
        -0.7905448, 0.26135084, 0.04132598, 0.2684171, -0.038835037, -0.39457124, 0.14187783, -0.017916815,
        -2.3250308, 0.35867196, 1.0663246, 0.7342476, 0.21757136, -0.19199322, -0.21879166, 1.3224574,
        -0.9216339, 1.3673786, -0.67623204, -0.6658761, -1.245911, -0.013914669, 0.80471694, -1.0944964,
        1.1432337, -0.2583831, -0.7322674, 1.0418397, 0.85274845, -0.60329187, -1.8883489, -0.7741978,
        -0.544259, 1.4022648, -0.6676873, 0.9426218, -0.21354462, -2.421833, -0.31630015, 1.1501657,
        0.16324401, 0.71894056, 0.66506606, -1.1945084, 0.41163054, -2.365304, -0.83075196, 0.22669886,
        -1.3384326, 0.47565293, 1.0425134, 1.2286837, 2.345808, 1.1624212, 0.36125374, 1.557078, -0.12853466,
        0.33962, -0.7041396, -1.0882118, 1.292893, 1.8135802, 1.3664634, 0.42377135, -0.45307446, -1.4791378,
        0.45367128, 0.09675174, -0.6651947, 0.3712274, -1.065838, -0.86650735, -1.6901599, 0.8933836,
        0.35151008, 0.38275716, -0.34612128, 0.122544095, -0.728195, 0.90797794, 0.90347016, 0.31941423,
        -0.0058760266, -0.7960868, 1.2323034, -0.6922592, 0.0940123, -0.3589133, 0.7677891, -0.48721814,
        0.29833525, -1.6979399, -0.7434993, -1.9016353, -0.6104866, -0.97500014, -0.009858939, 0.030887319,
        -0.9217254, -0.108914725, -0.18577395, -0.62042916, 0.44120058, -1.762201, -0.45772582, -0.80373186,
        -1.4164894, -1.0047872, 0.72104895, -0.3199296, 0.22019513, 1.0801634, -0.82740223, 0.3674662,
        -0.7084652, 0.6081171, -1.0096182, -0.2887665, 2.7558076, 0.79489106, -0.2904001, -1.4200695,
        -0.20917557, 0.08347536, 1.0412432, -0.48044595, 0.14291365, 0.032295384, -0.15922502, -0.849606,
        -0.78142405, -0.2072658, -0.5439577, 1.2400181, 0.5408456, -0.51062244, -1.3373972, -0.5810326,
        -0.13345155, 0.36151248, 0.21465912, -0.011533062, -0.97558284, 0.5312512, 1.2978717, 0.5223217,
        0.3553727, -1.4853752, -0.02169086, 0.08905604, -0.96781987, 0.9067404, -0.6538286, 0.3006851,
        0.03472779, 1.5941569, 1.9266627, 1.7329631, -0.12961364, -0.106072254, -0.7443606, -1.095472,
        1.8793443, 0.15142308, 0.7839755, -1.1857198, -1.2865745, 0.3625025, -1.7134395, 1.2295009,
        1.4934311, -2.398233, 1.4223785, 0.4439914, -0.14102267, -0.06416921, -1.2590655, 0.5130521,
        0.45168546, -0.36044016, 0.34269157, -0.5461688, 1.5139238, -0.29758403, -0.37456802, 0.5835341,
        -0.7608711, 0.31482098, 1.3458754, -0.53000844, -0.22066121, -1.4385227, -0.7410805, -0.60581285,
        0.7813114, -0.23615463, -0.52953047, 2.118803, -0.2374157, -0.57312924, 0.26445562, 1.816476,
        -2.9360454, -1.3420445, 0.73917806, -0.60774064, -0.31392282, -0.04980097, 0.11566183, 0.91980726,
        -0.5113338, -2.2954242, 1.4580207, 0.086619265, -1.0705444, -1.1211227, 1.8266938, 0.105499476,
        1.9602584, -1.4870728, -1.0026844, 1.1508831, 0.289974, -1.2638353, 1.8016349, 1.6473391, -0.6402624,
        -0.38477403, -0.10257529, -0.10726912, 1.3151038, 0.917488, 0.7323017, 0.1584229, 1.4492596,
        1.4499688, 0.35738042, 1.0669348, -1.1705308, 0.053343754, 0.6262812, -0.5210003, -1.2083186,
        0.04767273, -1.4342815, 1.1007341, 0.36928678, -0.5420092, -0.004454133, 0.91665477, 0.63985205,
        -0.32154745, -0.33114037, 1.3639094, 0.65647495, 0.37094682, 0.7543689, -2.9671838, 1.8139856,
        0.5463058, -1.2883614, 0.6131891, -0.9589337, -0.76005876, 0.8118216, 0.9765271, 0.39512205,
        -0.15219297, 0.56239766, 0.18371232, -0.20341134, -0.35529125, 0.4298637, -1.4738879, -0.29163244,
        -0.4404682, -1.5771991, 0.74808323, 0.6960427, 1.0288544, 0.30129218, 0.76982087, 0.37295154,
        -0.6861686, -1.1841179, -1.9349597, -1.2609602, 1.015327, -1.14374, -0.6760017, -0.6617026,
        -0.23993666, 0.83289444, -0.1477718, -1.715946, 0.5962443, -0.43643525, -0.20452249, 1.203259,
        -1.4896454, -0.2791515, -0.5983732, -1.169802, -1.0428602, 0.6370732, 1.3841652, 0.2814711,
        0.7671185, 1.7393678, 0.6131231, 0.55833995, 1.0830535, 1.2824812, 2.3916845, -0.49591073,
        -0.2003297, -3.7722752, -0.29919115, 0.28245184, -1.6861526, 0.32896963, -0.43686834, 0.26062974,
        2.1082885, 0.80601954, -0.75220436, -0.25857255, 0.51984173, -0.025445316, -0.34887546, -1.2258826,
        1.1201462, 1.5834728, -0.47657904, -0.14704551, -1.1371198, -0.022532178, -0.14507817, 1.320361,
        1.38898, -0.630578, -0.15587343, 0.12421132, 1.1610899, 0.63335264, 0.35145506, 0.055364974,
        1.0778338, 0.86224616, -1.0100642, -2.2035098, -0.474333, 0.4121174, -0.93745345, 0.116060674,
        0.3313442, 0.052028973, -1.944265, -0.26378816, 1.951225, 0.80407894, -0.15055631, 0.6836862,
        -1.3077532, -0.46332413, -0.8965262, -0.50419927, 0.14037073, 1.0039616, 1.0868307, 1.2297539,
        0.9544223, 0.35795492, 0.33111602, -0.61790705, -0.050604064, -1.1053671, 0.5444624, 0.4148664,
        -1.2200063, 1.8220114, -0.28312507, 1.0301552, -0.15405706, -1.2497758, -1.0741374, -1.320431,
        1.6432517, 0.17681247, 1.080533, 0.17553863, 1.399244, -0.66152805, -1.2826493, -0.8043057,
        -1.4997988, -0.32036254, 0.29321373, 0.93505, -0.5856578, -0.2899819, 1.3575718, -1.9040879,
        0.10634633, 0.049054615, -0.47258767, -0.9199936, -0.06368403, 0.9584067, -0.04407472, 2.0023925,
        0.58633727, 0.6750645, -0.5424352, -0.36185867, 0.3565425, 0.1885192, -0.6635352, 0.34790176,
        0.74917406, -0.85239005, -1.1559367, -0.6331941, -0.61341786, -0.5567962, 1.059899, -0.37731674,
        -0.9990273, -0.3775635, -1.6051494, -1.1022183, 0.7697954, 0.1382003, 1.3045082, -1.0911461,
        0.7293494, 0.3017161, 1.9995039, 1.5079095, 0.15127522, -1.2776802, 0.80613935, 0.9573856, 1.080726,
        -0.1659332, 0.85030085, 0.6304115, -0.47637674, -0.11383635, 1.2835066, 0.4724075, -0.605664,
        0.5811658, 0.16333994, 0.4183525, -0.53986394, 1.3735794, 1.3767254, 1.2945588, -1.2926462,
        -0.37602714, 0.106523775, 0.53355056, 0.3452784, -0.75460577, -0.47181314, 0.0675692, 0.56298256,
        1.0685642, 0.48124582, 1.6891074, 1.3779509, -0.29128292, -0.017742237, -0.47650987, 0.54872936,
        -0.2873877, 0.13573073, 0.29404214, 0.30163524, 0.7710493, -0.7970092, 1.5744083, 2.3103635,
        -1.5097725, 0.42610475, -0.057976, -1.8657209, -0.43278584, -0.78719276, 0.64419055, 0.84424394,
        1.0744113, -1.0748026, -0.7354833, 0.5802844, -0.22993249, -0.10160889, -1.0035596, 1.6305228,
        0.24978538, -0.19550583, 0.35860807, -0.34979922, -0.77955776, 1.300684, 1.0314531, 0.56581783,
        -0.34031013, -0.8283157, 1.2687316, -0.34692135, 0.16100958, -0.0072113597, 0.3203612, -0.89173234,
        -0.19608398, -0.30167633, -0.58552885, -0.5611981, -1.0725628, 1.1724513, -0.35896066, 1.0366058,
        -1.3412197, -0.8676168, 1.1891544, -0.08452149, 0.07757242, -0.16840987, -1.4015203, 3.0660367,
        -1.7035446, 0.7869444, -0.6894975, -1.2992599, 0.50268286, -0.07734506, -1.0392388, -1.2973639,
        1.3319414, 1.2655431, 0.989713, -2.0166607, 0.23566607, -1.938168, -1.2491627, 0.47717857,
        -0.16429459, -0.6486006, 1.4628422, -1.0490912, -0.150598, -2.5163398, -1.0743649, 0.6780397,
        0.2781263, 1.146627, 0.3469528, -0.3131901, 0.87304217, -0.5000084, -0.24790846, 1.0680774,
        -0.10444707, 0.1436702, -1.280394, 1.3604462, -1.4250902, 0.3320386, -0.8022875, 0.48124683,
        -0.71306807, 1.0023983, -0.19127667, -0.80217016, -0.8683892, 0.15215118, 0.6210179, -0.15233864,
        -0.019877011, -0.13080265, 0.42539442, -0.6357418, -2.2501411, -0.47221595, 1.6905687, -0.2977605,
        -1.0304805, -0.115759045, 0.3863696, -1.004801, 0.6221252, -0.34497336, 0.6462427, 0.2948003,
        -0.58164084, -0.69996655, -1.5290929, -2.50607, -1.5241483, -0.2680041, 0.1092797, -1.4731431,
        2.0267792, -0.85792637, -0.5549831, -0.3719007, -0.07570153, 1.2043962, -0.39500988, -0.19010888,
        0.036306024, 1.2520839, 0.20211439, 1.5907007, -0.87945974, 1.5164278, -1.252152, -0.9466077,
        0.69417197, -1.2561381, 1.4748226, 0.16074306, 0.65201086, -0.34946346, -0.75836974, -1.181683,
        -0.04975576, 1.4008883, -0.018538814, -2.031269, 1.420982, -1.7685119, -0.3674026, -0.39370692,
        -1.0360737, 0.54096997, 0.72609377, -0.96385425, 0.21878599, -0.2526886, -1.5188882, 0.8282645,
        0.84373266, -3.1063368, 0.8448888, -3.8994217, -1.5655894, 0.5484868, 1.164864, -1.1422789,
        0.9933362, 0.46333033, 0.051033944, 0.9176725,
    ], dtype=np.float32).reshape((1, 12, 10, 6)),
]

# The source model's outputs on INPUTS; onnx.reference give the same from the ONNX model.
EXPECTED = [
    np.array([
        0.96978354, -1.9140143, 0.48186618, -0.7007933, -0.35606647, -1.3532951, 0.48186618, -0.7007933,
        -2.08557, -0.89099014, 0.48186618, -0.7007933, 3.2771504, -1.9733336, 0.48186618, -0.7007933,
        1.1460193, 0.5133968, 0.48186618, -0.7007933, 2.9243124, 0.31650978, 0.48186618, -0.7007933,
        3.5526626, -2.3785741, 0.48186618, -0.7007933, 2.6516607, 0.53435594, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        -2.001114, 0.19770545, 0.48186618, -0.7007933, 4.9240193, -1.0519847, 0.48186618, -0.7007933,
        1.6949091, 2.1647296, 0.48186618, -0.7007933, 2.2939394, -1.5649378, 0.48186618, -0.7007933,
        -1.6679647, 4.186382, 0.48186618, -0.7007933, -3.226575, -3.0636039, 0.48186618, -0.7007933,
        -2.442753, -1.2772613, 0.48186618, -0.7007933, 1.9159565, 3.1380455, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
        0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933, 0.48186618, -0.7007933,
    ], dtype=np.float32).reshape((1, 4, 16, 2)),
]


def build_model() -> keras.Model:
    inputs = keras.Input(shape=(12, 10, 6), dtype='float32', name="x")
    x = inputs
    x = keras.ops.clip(x, -1.0, 1.0)
    x = keras.layers.Permute((3, 1, 2))(x)
    x = keras.layers.Reshape((45, 2, 8), name='l1')(x)
    x = keras.layers.Permute((2, 3, 1))(x)
    x = keras.layers.Conv2DTranspose(2, 1, strides=2, name='l2')(x)
    model = keras.Model(inputs, x, name="fuzzed")
    weights = WEIGHTS
    for layer in model.layers:
        count = sum(1 for key in weights if key.startswith(layer.name + "/"))
        if count:
            layer.set_weights([weights[f"{layer.name}/{index}"] for index in range(count)])
    return model


WEIGHTS = {
    'l2/0': np.array([
        0.32145172, 0.07085526, 0.21534021, -0.41591334, -0.013482945, 0.58088607, -0.064407885, 0.58812267,
        0.68729246, 0.2864127, -0.16529775, 0.5256489, -0.62817013, 0.46614328, 0.1505134, 0.46864808,
        0.07444803, -0.52618116, -0.6813935, -0.6082661, 0.31959492, -0.37298232, 0.3254244, 0.40185714,
        -0.40204206, 0.6396588, -0.32092446, -0.19363576, -0.0034602561, -0.037665877, -0.18654187,
        0.41480532, -0.46998668, -0.49740925, 0.39175192, -0.2872498, -0.23778856, -0.14669286, -0.055628277,
        -0.29219693, -0.23755598, 0.57960176, 0.7037585, 0.65991163, -0.28317413, -0.555586, 0.2584159,
        0.2757722, -0.37221137, 0.10936736, 0.2216781, -0.47054824, 0.6927384, -0.21603294, -0.3613448,
        -0.11347558, -0.18216592, 0.40468603, 0.12716143, 0.33412048, 0.5609887, -0.3774316, 0.5751587,
        0.10781113, 0.08224612, 0.09702398, 0.3993263, -0.34821633, 0.091154106, 0.61755425, 0.31998265,
        -0.46258542, -0.08696505, 0.39939532, 0.3514817, -0.44027254, 0.28398362, 0.35164827, -0.07734891,
        0.032097943, 0.116017625, -0.52547264, -0.6123656, 0.5530628, 0.61917967, 0.08359153, -0.5922885,
        0.50991136, 0.45524344, 0.5487812,
    ], dtype=np.float32).reshape((1, 1, 2, 45)),
    'l2/1': np.array([0.48186618, -0.7007933], dtype=np.float32).reshape((2,)),
}


def check_source(inputs):
    """Exit 2 (neither reproduced nor fixed) unless the Keras model built here computes EXPECTED on INPUTS."""
    model = build_model()
    outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    outputs = [keras.ops.convert_to_numpy(output) for output in
               (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    if not all([within_tolerance(f"the Keras model's own {name}", want, got)
                for name, want, got in zip(OUTPUT_NAMES, EXPECTED, outputs)]):
        print("the Keras model built here does not compute EXPECTED: this script is not the finding's model")
        sys.exit(2)


OPSET = 17
# (name, shape with None for a dynamic axis, dtype) of each input, as the Keras model takes it.
SIGNATURE = [('x', [1, 12, 10, 6], 'float32')]


def convert_and_run(inputs):
    import keras
    import tensorflow as tf
    import tf2onnx

    model = build_model()
    specs = [tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in SIGNATURE]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.onnx"
        tf2onnx.convert.from_keras(model, input_signature=specs, opset=OPSET, output_path=str(path))
        return run_onnx(path, inputs, OPSET)


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
        check_source(INPUTS)
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
