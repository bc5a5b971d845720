"""The :class:`Run`: a trained family in a run directory, and what it does for an s or a genotype
(derive, describe, evaluate under a protocol, select for a latency budget, export)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hypernas import data
from hypernas.device import latency
from hypernas.device.export import export_model
from hypernas.device.runtime import check_runtime
from hypernas.device.select import select_for_budget
from hypernas.errors import ConfigError, SimplexError
from hypernas.io import check_writable, finite, read_json, save_torch
from hypernas.method import simplex
from hypernas.space.cells import SearchSpace
from hypernas.space.genotype import Genotype
from hypernas.space.genotype import derive as derive_genotype
from hypernas.space.network import describe as describe_genotype
from hypernas.train import evaluate as evaluation
from hypernas.train import run as trained
from hypernas.train.build import load_splits, torch_device
from hypernas.train.checkpoint import SUMMARY
from hypernas.train.config import SearchConfig, nearest

ComplexityVector = Sequence[float] | torch.Tensor | str
Architecture = ComplexityVector | Genotype | dict  # an s of the family, or an architecture itself


def _check_protocol(protocol: str, epochs: int | None) -> None:
    if protocol not in evaluation.PROTOCOLS:
        choices = ", ".join(evaluation.PROTOCOLS)
        raise ConfigError(
            f"unknown protocol {protocol!r}{nearest(protocol, evaluation.PROTOCOLS)} (choose {choices})"
        )
    if epochs is not None and epochs < 1:
        raise ConfigError("--epochs must be >= 1")


class Run:
    """A trained family in a run directory (written by :func:`search` or ``hypernas search``).

    ``Run(run_dir, device)`` opens the directory and loads the weights on first use; :func:`load_run`
    loads them at once. ``family`` is the loaded supernet and hypernetwork
    (:class:`~hypernas.train.run.TrainedFamily`); ``config``, ``space``, ``history`` (one dict per
    epoch) and ``summary`` (``search.json``: final metrics and provenance; None before the search
    has finished) describe the search.
    """

    def __init__(
        self,
        run_dir: str | Path,
        device: torch.device | str | None = "cpu",
        *,
        family: trained.TrainedFamily | None = None,
        summary: dict | None = None,
    ):
        self.run_dir = Path(run_dir)
        self._device = device
        self._family = family
        self._summary = summary
        self._splits: dict[str, data.Splits] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.run_dir)!r})"

    @property
    def family(self) -> trained.TrainedFamily:
        """The supernet and the hypernetwork, loaded from the run's latest checkpoint."""
        if self._family is None:
            self._family = trained.load_family(self.run_dir, torch_device(self._device))
        return self._family

    @property
    def config(self) -> SearchConfig:
        return self.family.config

    @property
    def space(self) -> SearchSpace:
        return self.family.space

    @property
    def history(self) -> list[dict]:
        return self.family.history

    @property
    def device(self) -> torch.device:
        return next(self.family.supernet.parameters()).device

    @property
    def summary(self) -> dict | None:
        if self._summary is None and (self.run_dir / SUMMARY).is_file():
            self._summary = read_json(
                self.run_dir / SUMMARY,
                "search summary",
                "resume the search (`hypernas search --resume`) to write it",
            )
        return self._summary

    def check_s(self, s: ComplexityVector, normalize: bool = False) -> list[float]:
        """``s`` checked to be a point of the simplex with one entry per op (or rescaled onto it)."""
        k = len(self.config.ops)
        if isinstance(s, str):
            return simplex.parse(s, k, normalize=normalize)
        if isinstance(s, torch.Tensor):
            if s.dim() != 1:
                raise SimplexError(
                    f"s must be a vector of {k} numbers, not a tensor of shape {tuple(s.shape)}"
                )
            s = s.detach().cpu().tolist()
        try:
            values = [float(v) for v in s]
        except (TypeError, ValueError):
            raise SimplexError(
                f"cannot read s={s!r}: give {k} numbers such as {[round(1 / k, 2)] * k}"
            ) from None
        return simplex.validate(values, k, normalize=normalize)

    def derive(self, s: ComplexityVector, normalize: bool = False) -> Genotype:
        """The architecture at ``s``: the argmax op on each edge of ``alpha(s)``."""
        return derive_genotype(self.family.hypernet, self.check_s(s, normalize), self.config.ops)

    def architecture(
        self, arch: Architecture, normalize: bool = False
    ) -> tuple[Genotype, list[float] | None]:
        """``(genotype, s)`` of ``arch``: an s of the family (derived), or a genotype given as such
        (checked to fit the run's space; s is then None)."""
        if isinstance(arch, (Genotype, dict)) or (isinstance(arch, str) and _looks_like_genotype(arch)):
            return Genotype.parse(arch, self.config.ops).check(self.config.ops, self.space.n_edges), None
        values = self.check_s(arch, normalize)
        return self.derive(values), values

    def describe(self, arch: Architecture, normalize: bool = False) -> dict:
        """The JSON record of the architecture at ``s``, or of a genotype (as ``hypernas derive --json``
        prints it; ``s`` is None for a genotype given as such)."""
        genotype, values = self.architecture(arch, normalize)
        record = describe_genotype(genotype, self.space, values or [])
        record["s"] = record["s"] if values is not None else None
        record["genotype"] = genotype.key()
        return record

    def splits(self, data_root: str | Path | None = None) -> data.Splits:
        """The run's train / validation / test splits (loaded once per data root)."""
        key = str(data_root)
        if key not in self._splits:
            self._splits[key] = load_splits(self.config, data_root)
        return self._splits[key]

    def evaluate(
        self,
        arch: Architecture,
        protocol: str = "inherited",
        *,
        normalize: bool = False,
        epochs: int | None = None,
        data_root: str | Path | None = None,
        save_model: str | Path | None = None,
        progress: bool = False,
    ) -> float:
        """Test accuracy (%) of the architecture at ``s`` (or of a genotype) under ``protocol``.

        ``inherited``: the discrete network with the supernet's weights; ``retrain``: trained from
        scratch for ``epochs`` (default: the profile's ``retrain_epochs``), its weights saved to
        ``save_model`` when given; ``relaxed``: the supernet at ``s`` with Gumbel-Softmax at t = 1
        (an s of the family only: a genotype has no alpha to sample).
        """
        _check_protocol(protocol, epochs)
        genotype, values = self.architecture(arch, normalize)
        if values is None and protocol == "relaxed":
            raise ConfigError(
                "the relaxed protocol samples the supernet at alpha(s): give an s, or use inherited or retrain"
            )
        splits = self.splits(data_root)
        if save_model and protocol != "retrain":
            raise ConfigError("--save-model needs --protocol retrain")
        if save_model:
            check_writable(save_model)
        if not save_model:
            return evaluation.evaluate(
                self.family, genotype, values, protocol, splits, epochs=epochs, progress=progress
            )
        n = self.config.retrain_epochs if epochs is None else epochs
        acc, net = evaluation.retrain(genotype, self.config, splits, n, self.device, progress)
        save_torch(save_model, {"model": net.state_dict(), "genotype": genotype.to_dict(), "s": values})
        return acc

    def select(
        self,
        budget_ms: float,
        lut: dict | str | Path,
        *,
        grid: int = 10,
        max_eval: int = 12,
        margin: float = 0.05,
        data_root: str | Path | None = None,
        reps: int | None = None,
        runtime: str | None = None,
        lut_threads: bool = True,
        progress: bool = False,
    ) -> dict:
        """The most accurate architecture predicted to run within ``budget_ms`` on the LUT's device.

        ``lut`` is a table from :func:`measure_lut` or its JSON file; the candidates are measured
        in the table's runtime (``runtime``, when given, must be that one) under its protocol
        (``reps`` overrides the burst length). The family is scanned on a
        lattice with ``grid`` divisions, at most ``max_eval`` candidates are ranked by inherited
        accuracy on the validation split, and the winner is measured. With ``lut_threads`` torch
        uses the table's thread count (process-wide), so the measurement compares with the table.
        Raises :class:`~hypernas.errors.BudgetError` when nothing fits.
        """
        if not finite(budget_ms) or budget_ms <= 0:
            raise ConfigError(
                f"--budget-ms must be a finite positive number of milliseconds, not {budget_ms}"
            )
        if not finite(margin) or not 0 <= margin < 1:
            raise ConfigError(f"--margin must be a fraction in [0, 1), not {margin}")
        if grid < 1 or max_eval < 1 or grid > 200:
            raise ConfigError("--grid must be from 1 to 200 and --max-eval >= 1")
        table = latency.read_lut(lut)
        if runtime is not None and check_runtime(runtime) != table.get("runtime", "torch"):
            raise ConfigError(
                f"the latency table was measured in {table.get('runtime', 'torch')}, not {runtime}; "
                f"measure one with `hypernas latency measure --runtime {runtime}`"
            )
        family = self.family
        if lut_threads and table.get("provenance", {}).get("threads"):
            torch.set_num_threads(int(table["provenance"]["threads"]))
        splits = self.splits(data_root)
        return select_for_budget(
            family,
            table,
            budget_ms,
            splits,
            grid=grid,
            max_eval=max_eval,
            device=self.device,
            reps=reps,
            progress=progress,
            margin=margin,
        )

    def export_model(
        self,
        arch: Architecture,
        format: str,
        out: str | Path,
        *,
        normalize: bool = False,
        retrained: str | Path | None = None,
        data_root: str | Path | None = None,
    ) -> dict:
        """:meth:`export`, returning ``{"path", "format", "genotype", "max_abs_diff"}``."""
        genotype, _ = self.architecture(arch, normalize)
        check_writable(out)  # before the network is built and its BatchNorm re-estimated
        splits = None if retrained else self.splits(data_root)
        return export_model(self.family, genotype, format, out, splits=splits, retrained=retrained)

    def export(
        self,
        arch: Architecture,
        format: str,
        out: str | Path,
        *,
        normalize: bool = False,
        retrained: str | Path | None = None,
        data_root: str | Path | None = None,
    ) -> Path:
        """Write the network at ``s`` (or of a genotype) to ``out`` as ``onnx``, ``pt2`` (``torch.export``) or ``torchscript``;
        return the path.

        The weights are inherited from the supernet (BatchNorm re-estimated on training data), or
        those of ``retrained`` (a file saved by ``evaluate(..., "retrain", save_model=...)``); the
        exported model's outputs are checked against PyTorch's.
        """
        rec = self.export_model(
            arch, format, out, normalize=normalize, retrained=retrained, data_root=data_root
        )
        return Path(rec["path"])


def _looks_like_genotype(text: str) -> bool:
    """A genotype key (``0120|2201``), JSON text or a file name, rather than an s such as ``0.2,0.3,0.5``."""
    text = text.strip()
    return "|" in text or text.startswith("{") or (not any(c in text for c in ",") and Path(text).is_file())
