"""The pipeline's YAML ``input.forecast_from``: global_end (Amazon Forecast's default) or item_end, passed
to the pipeline's data as the notebooks pass it (:func:`fc_core.workflow.load_dataset_group`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core.errors import ConfigError
from fc_core.pipeline import Pipeline
from fc_core.pipeline.config import PipelineConfig
from fc_core.pipeline.example import ec2_config, write_drop


def _history():
    """Three instance types, 10 days hourly, a daily pattern; c stops 12 hours before the others."""
    ts = pd.date_range("2024-01-01", periods=240, freq="h")
    rows = []
    for k, name in enumerate(("a", "b", "c")):
        y = 10.0 * (k + 1) + np.arange(24)[ts.hour]
        n = 228 if name == "c" else 240
        rows.append(pd.DataFrame({"instance_type": name, "timestamp": ts[:n], "number_of_instances": y[:n]}))
    return pd.concat(rows, ignore_index=True)


def _run(root, forecast_from):
    cfg = ec2_config(root, algorithms=("SeasonalNaive",))
    cfg["input"].update({"checks": {"incomplete_items": "warn"}})  # c really stops early
    if forecast_from:
        cfg["input"]["forecast_from"] = forecast_from
    root.joinpath("drops").mkdir(parents=True)
    write_drop(_history(), cfg["input"]["location"], "history.csv")
    pipe = Pipeline(cfg)
    with pytest.warns(UserWarning, match="1 item.* end before the drop's last time") as w:
        res = pipe.run()
    said = " ".join(str(x.message) for x in w)
    assert ("forecasts each from its own last time" in said) == (forecast_from == "item_end")
    assert ("those rows would be filled in" in said) == (forecast_from != "item_end")
    assert res.published_version is not None
    return pipe


def test_item_end_forecasts_an_item_ending_early_from_its_own_end(tmp_path):
    own = _run(tmp_path / "own", "item_end")
    c, a = own.query("c"), own.query("a")
    assert c["timestamp"].min() == pd.Timestamp("2024-01-10 12:00")  # c's own last hour + 1
    assert a["timestamp"].min() == pd.Timestamp("2024-01-11 00:00")
    assert len(c) == len(a) == 24
    # seasonal naive from its own last day: 30 + hour of day, not the back-filled zeros
    np.testing.assert_allclose(c.sort_values("timestamp")["p50"].to_numpy(),
                               30.0 + (np.arange(24) + 12) % 24)
    # the default (no key): Amazon Forecast's global end, c back-filled with zeros and forecast from there
    default = _run(tmp_path / "default", None)
    assert default.config.input["forecast_from"] == "global_end"
    c0 = default.query("c")
    assert c0["timestamp"].min() == pd.Timestamp("2024-01-11 00:00")
    np.testing.assert_array_equal(c0.sort_values("timestamp")["p50"].to_numpy()[12:], 0.0)  # the zeros repeated


def test_a_bad_forecast_from_names_the_key_and_the_choices(tmp_path):
    cfg = ec2_config(tmp_path)
    cfg["input"]["forecast_from"] = "own_end"
    with pytest.raises(ConfigError, match=r"input.forecast_from 'own_end': choose global_end .* or item_end"):
        PipelineConfig.from_dict(cfg)
