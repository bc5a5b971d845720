"""Property-based tests of what a user types: any ``--s``, ``--set`` or ``--budget-ms`` string gives
either a valid result or one line on stderr with status 2, never a traceback."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypernas import api
from hypernas.cli import main
from hypernas.train.config import RANGES, SearchConfig

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320", "0", "-0", "", " ", "--", "0x10", "1_000"]),
)


def one_line_error(rc: int, err: str) -> bool:
    return rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def loaded_run(smoke_run):
    return api.load_run(smoke_run)


@PROPERTY
@given(text=st.one_of(st.text(max_size=40), st.lists(NUMBER_TEXT, min_size=0, max_size=5).map(",".join)))
def test_any_s(capsys, monkeypatch, loaded_run, smoke_run, text):
    monkeypatch.setattr(api, "load_run", lambda *a, **k: loaded_run)  # load once; parse every example
    for normalize in ([], ["--normalize"]):
        rc = main(["derive", str(smoke_run), "--s", text, "--json", *normalize])
        out, err = capsys.readouterr()
        if rc == 0:
            s = json.loads(out)["s"]
            assert len(s) == 3 and all(v >= 0 and math.isfinite(v) for v in s)
            assert sum(s) == pytest.approx(1.0, abs=1e-5)  # the record rounds each entry to 6 decimals
        else:
            assert one_line_error(rc, err), err


class Accepted(Exception):
    """Raised by the stand-in search: the config passed validation."""


CONFIG_KEYS = [f.name for f in fields(SearchConfig) if f.name not in ("experiment", "profile")]


@PROPERTY
@given(
    key=st.one_of(st.sampled_from(CONFIG_KEYS), st.text(max_size=12)),
    value=st.one_of(NUMBER_TEXT, st.text(max_size=20)),
    separator=st.sampled_from(["=", "=", " = ", ":", ""]),
)
def test_any_set(capsys, monkeypatch, tmp_path, key, value, separator):
    def accept(cfg, *args, **kwargs):
        raise Accepted(cfg)

    monkeypatch.setattr(api.searching, "run_search", accept)
    argv = [
        "search",
        "exp1",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path / "run"),
        "--set",
        f"{key}{separator}{value}",
    ]
    try:
        rc = main(argv)
    except Accepted as accepted:
        cfg = accepted.args[0]
        for name in RANGES:  # a config that passes has finite numbers in range
            number = getattr(cfg, name)
            assert number is None or math.isfinite(number)
        assert cfg.t_end <= cfg.t_start
        return
    _, err = capsys.readouterr()
    assert one_line_error(rc, err), err


@PROPERTY
@given(text=st.one_of(NUMBER_TEXT, st.text(max_size=12)))
def test_any_budget(capsys, smoke_run, tmp_path, text):
    lut = tmp_path / "missing-lut.json"
    rc = main(["select", str(smoke_run), "--lut", str(lut), "--budget-ms", text])
    _, err = capsys.readouterr()
    assert one_line_error(rc, err), err
    try:
        budget = float(text)
    except ValueError:
        budget = None
    if budget is not None and math.isfinite(budget) and budget > 0:
        assert str(lut) in err  # the budget passed; the missing table is what is reported
    else:
        assert "--budget-ms" in err or "argument" in err
