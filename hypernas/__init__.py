"""hypernas: hypernetwork-controlled differentiable architecture search.

A complexity vector ``s`` on the simplex (one penalty per primitive operation) is mapped by an RBF
hypernetwork to the DARTS architecture logits ``alpha(s)``; one search trains a whole family of
architectures, one for every ``s``.

Python API
----------
search(experiment, profile="quick", out=None, *, seed=0, overrides=None, data_root=None,
       resume=False, device=None, progress=True, checkpoint_every_s=600.0) -> Run
    Train the family of a preset (exp1, exp2, exp3) at a profile (smoke, quick, paper) into the
    run directory ``out``; ``overrides`` is a dict of config keys (as ``hypernas search --set``).
load_run(path, device="cpu") -> Run
    A trained family loaded back from its run directory.
Run
    ``config``, ``space``, ``history``, ``summary``, ``run_dir``, ``family`` (supernet and
    hypernetwork) and, for a complexity vector ``s`` (a sequence, a 1-D tensor or "a,b,c"):
    ``derive(s, normalize=False) -> Genotype``, ``describe(s) -> dict`` (the record of
    ``hypernas derive --json``), ``evaluate(s, protocol="inherited") -> float`` (test accuracy in %;
    protocols inherited, retrain, relaxed), ``select(budget_ms, lut) -> dict`` (the best
    architecture within a latency budget) and ``export(s, format, out) -> Path`` (onnx, pt2, torchscript).
    ``describe``, ``evaluate`` and ``export`` also take an architecture itself instead of s: a
    ``Genotype``, its dict or JSON, or its key (``"0120...|2201..."``).
Genotype, random_genotypes(ops, n_edges, n, seed=0), parameter_counts(genotype, space)
    Architectures as plain data, random architectures of a space (op counts drawn first, so that
    they span its sizes), and their parameter counts (``cell_params``, ``total_params``).
measure_lut(experiment="exp1", *, device="cpu", out=None) -> dict, s_device(lut) -> dict
    A measured per-op latency table and the device's complexity vector.
search(..., dataset="imagefolder:PATH" | "PATH.npz" | from_tensors(images, labels))
    Your own images instead of the preset's: a folder with one sub-folder per class, an .npz file
    of ``images`` and ``labels``, or tensors; decoded once into the data root's cache, and recorded
    in configs and results by a label and a content hash, never a path.
register_op(name, factory, group="conv"), unregister_op(name)
    Your own primitive, ``factory(C, stride, affine) -> nn.Module``, usable in ``ops`` (``--set
    ops=...``); on the command line, register it in a module given to ``hypernas --import``.
HyperNASError
    Raised, with a one-line message, for every error a user can cause (bad s, unknown key, ...).

Example (seconds on a CPU)::

    import hypernas

    run = hypernas.search("exp1", profile="smoke", out="runs/try")
    s = [0.2, 0.3, 0.5]                       # penalties of max_pool_3x3, skip_connect, sep_conv_3x3
    print(run.derive(s).op_counts())          # the architecture at s
    print(run.evaluate(s, "inherited"))       # its test accuracy (%) with the supernet's weights
    run = hypernas.load_run("runs/try")       # later: the same family, from disk

The command line ``hypernas`` (``python -m hypernas``) is a thin layer over this API.
"""

from hypernas.errors import HyperNASError

__version__ = "0.1.0"
__all__ = [
    "Genotype",
    "HyperNASError",
    "Run",
    "from_tensors",
    "load_run",
    "measure_lut",
    "parameter_counts",
    "random_genotypes",
    "register_op",
    "s_device",
    "search",
    "unregister_op",
]

_API = set(__all__) - {"HyperNASError"}  # the names that hypernas.api provides


def __getattr__(name: str):
    """Import :mod:`hypernas.api` (and torch) on first use, so that ``import hypernas`` stays light."""
    if name in _API:
        from hypernas import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hypernas' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The package's names, the API's included (for ``help`` and completion)."""
    return sorted(set(globals()) | _API)
