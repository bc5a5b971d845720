"""Target runtimes whose latency is measured: PyTorch eager, and ONNX Runtime on the CPU.

A runtime turns a module and an example input into a zero-argument call that runs one inference,
the unit every latency measurement times. ``torch`` runs the module itself in inference mode;
``onnxruntime`` exports it to ONNX in memory (as ``hypernas export`` does) and runs it in an
``InferenceSession`` with a fixed number of intra-op threads, which is what a user deploys.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import torch
from torch import nn

from hypernas.errors import ConfigError

RUNTIMES = ("torch", "onnxruntime")


def check_runtime(name: str) -> str:
    """``name`` if it is a known runtime, else a one-line :class:`ConfigError`."""
    if name not in RUNTIMES:
        raise ConfigError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    if name == "onnxruntime":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--runtime onnxruntime needs onnx, onnxscript and onnxruntime: pip install 'hypernas[export]'"
            ) from None
    return name


def onnx_bytes(module: nn.Module, example: torch.Tensor) -> bytes:
    """The ONNX graph of ``module`` (in eval mode) traced on ``example``, with a dynamic batch axis."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and constant-folding notes about this fixed graph
        torch.onnx.export(
            module.eval(),
            (example,),
            buffer,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}},
            dynamo=False,
        )
    return buffer.getvalue()


def onnx_session(model: bytes, threads: int):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads, one inter-op thread, sequential
    execution and full graph optimisation (the settings a latency table records)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def prepare(
    runtime: str, module: nn.Module, example: torch.Tensor, device: torch.device, threads: int
) -> Callable[[], object]:
    """A zero-argument call that runs ``module`` on ``example`` once in ``runtime``."""
    check_runtime(runtime)
    module = module.to(device).eval()
    example = example.to(device)
    if runtime == "torch":

        def call() -> object:
            with torch.inference_mode():
                return module(example)

        return call
    if device.type != "cpu":
        raise ConfigError("--runtime onnxruntime measures on the CPU; use --device cpu")
    session = onnx_session(onnx_bytes(module.cpu(), example.cpu()), threads)
    feed = {session.get_inputs()[0].name: example.cpu().numpy()}
    return lambda: session.run(None, feed)


def runtime_version(name: str) -> str:
    """The version of the library behind runtime ``name``."""
    if name == "onnxruntime":
        import onnxruntime

        return onnxruntime.__version__
    return torch.__version__
