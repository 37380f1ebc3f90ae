"""What a worker's frameworks will use to run an op, reported from inside the worker."""

from __future__ import annotations


def framework_threads(framework: str) -> dict[str, int]:
    from harness.runners.onnxruntime_runner import session_options

    options = session_options()
    threads = {"onnxruntime": options.intra_op_num_threads}
    if framework == "torch":
        import torch

        threads["torch"] = torch.get_num_threads()
    elif framework == "tf":
        import tensorflow as tf

        threads["tf"] = tf.config.threading.get_intra_op_parallelism_threads()
    return threads
