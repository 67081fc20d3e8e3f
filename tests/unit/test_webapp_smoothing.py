"""The scalar charts' smoothing (static/js/components/smoothing.js), run in Node as the browser runs it:
exponential moving average debiased as TensorBoard's, centred running average, gaussian; non-finite values
pass through; 'none' and amount 0 leave the series alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.node import needs_node, run_module_script

MODULE = (Path(__file__).resolve().parents[2] / "services" / "webapp" / "trackside" / "webapp" / "static" / "js"
          / "components" / "smoothing.js")
pytestmark = needs_node


def smooth(y: list, kind: str, amount: float) -> list:
    script = (f"import {{smooth}} from {json.dumps(MODULE.as_uri())};"
              f"const out = smooth({json.dumps(y)}, {json.dumps(kind)}, {amount});"
              "console.log(JSON.stringify(out.map((v) => (Number.isFinite(v) ? v : String(v)))));")
    return run_module_script(script)


def test_ema_is_debiased_so_it_starts_at_the_first_value():
    out = smooth([10.0, 0.0, 0.0], "ema", 0.5)
    assert out[0] == pytest.approx(10.0)
    # (0.5*0.5*10) / (1 - 0.5**2) = 10/3, then (0.25*... ) / (1 - 0.5**3)
    assert out[1] == pytest.approx(2.5 / 0.75)
    assert out[2] == pytest.approx(1.25 / 0.875)


def test_running_average_is_centred_and_keeps_the_ends():
    out = smooth([0.0, 0.0, 9.0, 0.0, 0.0], "running", 0.02)  # window 3
    assert out == pytest.approx([0.0, 3.0, 3.0, 3.0, 0.0])


def test_gaussian_keeps_a_constant_series_constant_and_spreads_a_spike():
    assert smooth([2.0] * 7, "gaussian", 0.1) == pytest.approx([2.0] * 7)
    out = smooth([0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0], "gaussian", 0.05)
    assert out[3] < 8.0 and out[2] > 0.0 and out[2] == pytest.approx(out[4])


def test_non_finite_values_pass_through_and_none_changes_nothing():
    assert smooth([1.0, 2.0], "none", 0.9) == [1.0, 2.0]
    assert smooth([1.0, 2.0], "ema", 0) == [1.0, 2.0]
    out = smooth([1.0, None, 3.0], "ema", 0.5)  # null: a value the chart cannot draw
    assert out[0] == pytest.approx(1.0) and out[1] == "null" and out[2] == pytest.approx(1.75 / 0.75)
