"""Summaries of a zoo model's weights, computed inside a worker of the model's stack for the zoo tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def torch_weight_summary(model: str) -> dict[str, Any]:
    """Built twice as the harness builds it (torch.manual_seed(spec.seed) first): how many floating tensors
    it holds, how many are distinct, how many are constant, how many batch norms keep a default statistic."""
    import torch
    from torch import nn

    from model_zoo import all_models

    spec = all_models()[model]
    assert spec.build_torch is not None
    builds = []
    for _ in range(2):
        torch.manual_seed(spec.seed)
        builds.append(spec.build_torch())
    module = builds[0]
    arrays = [tensor.numpy() for tensor in module.state_dict().values() if tensor.is_floating_point()]
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    default_stats = sum(
        bool(torch.all(m.running_mean == 0) or torch.all(m.running_var == 1) or torch.all(m.weight == 1)
             or torch.all(m.bias == 0)) for m in norms)
    return {
        "tensors": len(arrays),
        "distinct": len({(a.dtype.str, a.shape, a.tobytes()) for a in arrays}),
        "constant": sum(a.size > 1 and bool(np.all(a == a.flat[0])) for a in arrays),
        "batchnorms": len(norms),
        "default_batchnorms": default_stats,
        "min_running_var": min(float(m.running_var.min()) for m in norms) if norms else None,
        "deterministic": all(torch.equal(a, b) for a, b in zip(module.state_dict().values(),
                                                                 builds[1].state_dict().values())),
        "eval": not module.training,
    }


def keras_weight_summary() -> dict[str, Any]:
    """A small Conv-BN-Dense Keras model through look_trained_keras: distinct, non-default weights."""
    import keras

    from model_zoo.trained_look import look_trained_keras

    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(image)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.Conv2D(4, 1, name="conv_b")(x)
    x = keras.layers.BatchNormalization(name="bn_b")(x)
    model = look_trained_keras(keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(x))))
    arrays = [np.asarray(v.numpy()) for v in model.weights]
    bn = model.get_layer("bn_a")
    return {
        "tensors": len(arrays),
        "distinct": len({(a.dtype.str, a.shape, a.tobytes()) for a in arrays}),
        "constant": sum(a.size > 1 and bool(np.all(a == a.flat[0])) for a in arrays),
        "bn_default": bool(np.all(bn.moving_mean.numpy() == 0) or np.all(bn.moving_variance.numpy() == 1)
                           or np.all(bn.gamma.numpy() == 1) or np.all(bn.beta.numpy() == 0)),
        "min_moving_variance": min(float(model.get_layer(n).moving_variance.numpy().min()) for n in ("bn_a", "bn_b")),
    }
