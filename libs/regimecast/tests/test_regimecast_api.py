"""The public API: what __all__ promises exists, and the docstring examples run."""
from __future__ import annotations

import doctest
import importlib

import pytest
import regimecast as rc

MODULES = ["regimecast", "regimecast.breaks", "regimecast.forecast", "regimecast.model", "regimecast.frame", "regimecast.synthetic"]


def test_all_names_exist() -> None:
    assert len(set(rc.__all__)) == len(rc.__all__)
    for name in rc.__all__:
        assert hasattr(rc, name), name
    for name in ("detect_breaks", "forecast_latest_regime", "RegimeForecaster", "forecast_frame",
                 "FORECAST_SCHEMA", "make_series", "make_panel", "__version__"):
        assert name in rc.__all__


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
