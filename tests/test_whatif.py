import pytest

import fc_core
from fc_core import demo
from fc_core.errors import ConfigError
from fc_core.whatif import compare_forecasts, what_if


def test_cheaper_prices_raise_the_forecast_of_a_price_aware_model():
    dg = demo.retail_stores(n_items=8, n_stores=2, periods=36, forecast_horizon=3, seed=1)
    ap = fc_core.AutoPredictor(forecast_horizon=3, algorithms=["GBM"], forecast_dimensions=["store_id"],
                               algorithm_params={"GBM": {"num_trees": 80, "calibration_windows": 1}})
    ap.train(dg, progress=False)
    base = ap.forecast()
    cheaper = ap.forecast(data=what_if(dg, "price", factor=0.7))
    cmp = compare_forecasts(base, cheaper)
    # demand has price elasticity between -2.5 and -1 in the demo: 30 % cheaper must sell more overall
    assert cmp["mean_scenario"].sum() > 1.05 * cmp["mean_baseline"].sum()
    assert (cmp["change_pct"] > 0).mean() > 0.7


def test_what_if_selects_items_and_dimensions_and_refuses_nonsense():
    dg = demo.retail_stores(n_items=4, n_stores=2, periods=24, forecast_horizon=3)
    end = dg.target["timestamp"].max()
    changed = what_if(dg, "price", value=1.0, items=["item_000"], store_id="store_1")
    fut = changed.related[changed.related["timestamp"] > end]
    sel = (fut["item_id"] == "item_000") & (fut["store_id"] == "store_1")
    assert (fut.loc[sel, "price"] == 1.0).all() and (fut.loc[~sel, "price"] != 1.0).all()
    # the original group is untouched
    assert (dg.related["price"] != 1.0).all()
    with pytest.raises(ConfigError, match="exactly one"):
        what_if(dg, "price")
    with pytest.raises(ConfigError, match="not a related-series field"):
        what_if(dg, "colour", factor=2)
    with pytest.raises(ConfigError, match="matches no related rows"):
        what_if(dg, "price", factor=2, items=["nope"])
