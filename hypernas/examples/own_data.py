"""The "your own data" study: a drawn image folder (:mod:`hypernas.data.shapes`) and a user's op
(``dil_conv_3x3``, registered with :func:`~hypernas.space.ops.register_op`) searched as a user would,
through the public API only; the family's front on this machine's latency table, the architecture
chosen for a budget, and that architecture exported to ONNX and run in ONNX Runtime.

Everything measured is kept in ``<results>/own-data.json`` and reused while the search config, the
machine and the study's settings are the same (``force=True`` measures again).
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hypernas import api
from hypernas.data.shapes import CLASSES, write_shapes
from hypernas.device.latency import predict
from hypernas.device.timing import Protocol
from hypernas.io import read_record, write_json
from hypernas.pipeline.experiment import family_grid
from hypernas.provenance import hardware
from hypernas.space.ops import DilConv, register_op

log = logging.getLogger(__name__)

OWN_OP = "dil_conv_3x3"
OPS = f"max_pool_3x3,skip_connect,{OWN_OP}"
IMAGES_PER_CLASS = {"smoke": 150, "quick": 500, "paper": 1500}
SIDE = 24
LUT_PROTOCOL = {"smoke": Protocol(rounds=2, warmup=2, reps=5)}
FRONT_POINTS = {"smoke": 5, "quick": 10, "paper": 12}
ORT_CALLS = 50
VERSION = 1  # of what the study measures; a stored record of another version is measured again


def dilated_conv(C: int, stride: int, affine: bool) -> torch.nn.Module:
    """A 3 x 3 depthwise convolution with dilation 2, then 1 x 1 (DARTS' dil_conv_3x3)."""
    return DilConv(C, C, 3, stride, 2, 2, affine)


def register_own_op() -> None:
    """Register :data:`OWN_OP` (the same definition registered again changes nothing)."""
    register_op(OWN_OP, dilated_conv, group="conv")


def _settings(profile: str, seed: int) -> dict:
    return {
        "version": VERSION,
        "profile": profile,
        "seed": seed,
        "images_per_class": IMAGES_PER_CLASS[profile],
        "side": SIDE,
        "ops": OPS,
        "hardware": hardware(torch.device("cpu")),
        "torch": torch.__version__,
    }


def run_own_data_study(
    profile: str = "quick",
    seed: int = 0,
    data_root: str | Path | None = None,
    results_dir: str | Path = "results/quick",
    runs_dir: str | Path = "runs",
    force: bool = False,
) -> dict:
    """Draw the images, search, measure the latency table, choose for a budget, export and run it."""
    register_own_op()
    out = Path(results_dir) / "own-data.json"
    settings = _settings(profile, seed)
    if out.is_file() and not force:
        stored = read_record(out, "own-data study", "delete it to measure again")
        if stored.get("settings") == settings:
            return stored
    work = Path(runs_dir) / profile / "own-data"
    folder = write_shapes(work / "shapes", per_class=IMAGES_PER_CLASS[profile], size=SIDE, seed=seed)
    run_dir = work / f"search-seed{seed}"
    tic = time.perf_counter()
    run = api.search(
        "exp1",
        profile,
        run_dir,
        seed=seed,
        dataset=f"imagefolder:{folder}",
        overrides={"ops": OPS},
        data_root=data_root,
        resume=(run_dir / "checkpoint.pt").is_file(),
        progress=False,
    )
    search_s = time.perf_counter() - tic
    cfg = run.config
    lut = api.measure_lut(
        "exp1",
        overrides={"ops": OPS},
        dataset=cfg.dataset,
        threads=1,
        **_protocol_args(profile),
    )
    front = _front(run, lut, FRONT_POINTS[profile], data_root)
    budget = statistics.median(p["predicted_ms"] for p in front)
    chosen = run.select(budget, lut, max_eval=4 if profile == "smoke" else 8, data_root=data_root)
    model = work / "chosen.onnx"
    export = run.export_model(chosen["s"], "onnx", model, data_root=data_root)
    ort = _onnx_runtime(model, run, data_root)
    splits = run.splits(data_root)
    record = {
        "settings": settings,
        "dataset": cfg.dataset,
        "data_source": splits.source,
        "classes": list(CLASSES),
        "train_images": len(splits.train_y),
        "val_images": len(splits.val_y),
        "test_images": len(splits.test_y),
        "search_s": round(search_s, 1),
        "epochs": cfg.epochs,
        "lut_entries": len(lut["entries"]),
        "s_device": api.s_device(lut),
        "front": front,
        "budget_ms": round(budget, 4),
        "chosen": {
            k: chosen[k]
            for k in (
                "s",
                "op_counts",
                "cell_params",
                "predicted_ms",
                "measured_ms",
                "val_accuracy",
                "within_budget",
            )
        },
        "chosen_test_accuracy": run.evaluate(chosen["s"], "inherited", data_root=data_root),
        "export_max_abs_diff": export["max_abs_diff"],
        "onnx_runtime": ort,
    }
    write_json(out, record)
    return record


def _protocol_args(profile: str) -> dict:
    p = LUT_PROTOCOL.get(profile)
    return {} if p is None else {"rounds": p.rounds, "reps": p.reps}


def _front(run: api.Run, lut: dict, n: int, data_root) -> list[dict]:
    """``n`` distinct architectures of the family spread over its predicted latency, each with its
    inherited test accuracy."""
    grid = family_grid(run.family, divisions=6)
    unique = {}
    for point in grid:
        unique.setdefault(point.genotype, point)
    rows = []
    for point in unique.values():
        g = run.derive(point.s)
        rows.append((predict(lut, g, run.space, run.config.dataset), point))
    rows.sort(key=lambda r: r[0])
    idx = sorted({round(i * (len(rows) - 1) / max(1, n - 1)) for i in range(n)})
    front = []
    for i in idx:
        predicted, point = rows[i]
        front.append(
            {
                "s": list(point.s),
                "group_counts": point.group_counts,
                "cell_params": point.cell_params,
                "predicted_ms": round(predicted, 4),
                "test_accuracy": run.evaluate(list(point.s), "inherited", data_root=data_root),
            }
        )
    return front


def _onnx_runtime(model: Path, run: api.Run, data_root) -> dict:
    """The exported model in ONNX Runtime: its accuracy on the test images and its latency (median
    of :data:`ORT_CALLS` calls at batch 1, one thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    splits = run.splits(data_root)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (splits.mean, splits.std))
    x = ((splits.test_x.float() / 255 - mean) / std).numpy().astype(np.float32)  # as the search saw them
    logits = np.concatenate([session.run(None, {name: x[i : i + 256]})[0] for i in range(0, len(x), 256)])
    accuracy = float((logits.argmax(1) == splits.test_y.numpy()).mean() * 100)
    one = x[:1]
    for _ in range(5):
        session.run(None, {name: one})
    times = []
    for _ in range(ORT_CALLS):
        t = time.perf_counter()
        session.run(None, {name: one})
        times.append((time.perf_counter() - t) * 1000)
    return {"test_accuracy": round(accuracy, 2), "median_ms": round(statistics.median(times), 4)}
