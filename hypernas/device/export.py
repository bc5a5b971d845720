"""Export of the discrete network at s (or of a given genotype) to ONNX, a ``torch.export`` program
(``pt2``) or TorchScript, with inherited weights (BN statistics recalibrated) or a retrained state dict."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from hypernas import data
from hypernas.data import Splits
from hypernas.errors import ArtefactError, ConfigError, OutputError
from hypernas.io import load_torch, temporary_beside
from hypernas.space.genotype import Genotype, derive
from hypernas.space.network import discrete_from_supernet, recalibrate_bn
from hypernas.train.run import TrainedFamily

EXPORT_FORMATS = ("onnx", "pt2", "torchscript")  # pt2: a torch.export program (torch.export.load)


def export_model(
    run: TrainedFamily,
    s,
    fmt: str,
    out: str | Path,
    splits: Splits | None = None,
    retrained: str | Path | None = None,
    batch: int = 2,
) -> dict:
    """Export the discrete network at s, or of a given :class:`Genotype` (inherited weights, or a retrained state dict) to ONNX,
    a ``torch.export`` program (``pt2``, batch size free) or TorchScript.

    Returns ``{"path", "format", "max_abs_diff"}`` where the difference compares the exported model's
    outputs with PyTorch's on a random batch.
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose onnx, pt2 or torchscript")
    g = s if isinstance(s, Genotype) else derive(run.hypernet, s, run.config.ops)
    net = discrete_from_supernet(g, run.supernet).cpu()
    if retrained:
        load_retrained(net, retrained)
    elif splits is not None:
        from hypernas.data import Batches

        calib = Batches(
            splits.train_x,
            splits.train_y,
            run.config.batch_size,
            splits.mean,
            splits.std,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
        )
        recalibrate_bn(net, calib, run.config.bn_recalibration_batches)
    net.eval()
    in_ch, hw = data.spec(run.config.dataset).channels, data.spec(run.config.dataset).size
    x = torch.randn(batch, in_ch, hw, hw, generator=torch.Generator().manual_seed(0))
    out = Path(out)
    if out.is_dir():
        raise OutputError(
            f"cannot write {out}: it is a directory; give a file name such as {out / 'model'}.{fmt}"
        )
    with torch.no_grad():
        ref = net(x).numpy()
    with temporary_beside(out) as tmp, warnings.catch_warnings():
        # the exporters' tracer and constant-folding notes concern this fixed graph, not the user
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(net, x)
            traced.save(str(tmp))
            got = torch.jit.load(str(tmp))(x).detach().numpy()
        elif fmt == "pt2":
            got = _export_pt2(net, x, tmp)
        else:
            got = _export_onnx(net, x, tmp)
        tmp.replace(out)
    import numpy as np

    return {
        "path": str(out),
        "format": fmt,
        "genotype": g.to_dict(),
        "max_abs_diff": float(np.abs(ref - got).max()),
    }


def _export_pt2(net: torch.nn.Module, x: torch.Tensor, path: Path):
    """Write ``net`` as a ``torch.export`` program (any batch size) to ``path``; return the loaded
    program's outputs on ``x``."""
    program = torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    torch.export.save(program, str(path))
    with torch.no_grad():
        return torch.export.load(str(path)).module()(x).numpy()


def _export_onnx(net: torch.nn.Module, x: torch.Tensor, path: Path):
    """Write ``net`` to ONNX at ``path`` and return ONNX Runtime's outputs on ``x``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'hypernas[export]'"
        ) from None
    torch.onnx.export(
        net,
        (x,),
        str(path),
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {"images": x.numpy()})[0]


def load_retrained(net: torch.nn.Module, path: str | Path) -> None:
    """Load the weights saved by ``evaluate --protocol retrain --save-model`` into ``net``."""
    fix = "give the file written by `hypernas evaluate --protocol retrain --save-model` for this s"
    state = load_torch(path, "retrained model", fix, weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ArtefactError(f"retrained model {path} holds no state dict; {fix}")
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError):
        raise ArtefactError(f"retrained model {path} does not fit the network at this s; {fix}") from None
