"""The bundled samples give exactly the results examples/make_samples.py promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _samples():
    spec = importlib.util.spec_from_file_location("make_samples", EXAMPLES / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_samples_give_the_expected_results():
    assert _samples().check() == []


def test_samples_regenerate_identically(tmp_path):
    mod = _samples()
    mod.build(tmp_path / "r")
    assert mod.check(tmp_path / "r") == []
    committed = {p.relative_to(EXAMPLES / "returns-2020"): p.read_bytes()
                 for p in (EXAMPLES / "returns-2020").rglob("*") if p.is_file()}
    rebuilt = {p.relative_to(tmp_path / "r"): p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert rebuilt == committed
