"""Irregular seasonality: several seasons at once (MSTL) and moving lunar holidays (Chuseok) as
Amazon Forecast's holiday featurization, ``{"CountryCode": "KR"}``."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import features as ft
from fc_core.algorithms.base import make_estimator
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError


def test_lunar_holidays_move_and_are_listed_by_country_code():
    h = ft.holiday_names({"CountryCode": "KR"}, range(2021, 2025))
    chuseok = h.loc[h["holiday"] == "Chuseok", "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    seollal = h.loc[h["holiday"] == "Korean New Year", "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    assert chuseok == ["2021-09-21", "2022-09-10", "2023-09-29", "2024-09-17"]
    assert seollal == ["2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10"]
    assert "KR" in ft.list_holiday_countries()


def test_auto_predictor_passes_holidays_to_the_algorithms_that_use_them():
    ap = AutoPredictor(7, algorithms=["Prophet", "DeepAR+", "ETS"], holidays={"CountryCode": "KR"})
    panel = type("P", (), {"frequency": "D"})()
    assert ap._estimator("Prophet", panel, False).params["holidays"] == {"CountryCode": "KR"}
    assert ap._estimator("DeepAR+", panel, False).params["holidays"] == {"CountryCode": "KR"}
    assert "holidays" not in ap._estimator("ETS", panel, False).params
    assert ap.config()["holidays"] == {"CountryCode": "KR"}
    with pytest.raises(ConfigError, match="holiday calendar"):
        AutoPredictor(7, algorithms=["Prophet"], holidays={"CountryCode": "XX"})


def _chuseok_sales(seed: int = 0):
    """Daily sales 2021-01-01 .. 2024-09-30: weekly and yearly seasons, x3 on the Chuseok days."""
    ts = pd.date_range("2021-01-01", "2024-09-30", freq="D")
    hol = ft.holiday_names("KR", range(2021, 2025))
    chuseok = ts.isin(hol.loc[hol["holiday"].str.contains("Chuseok"), "timestamp"])
    t = np.arange(len(ts))
    truth = 100 * (1 + 0.1 * np.sin(2 * np.pi * t / 7)) * (1 + 0.1 * np.sin(2 * np.pi * t / 365.25))
    truth = truth * np.where(chuseok, 3.0, 1.0)
    y = truth * (1 + np.random.default_rng(seed).normal(0, 0.05, len(ts)))
    return ts, y, truth


def test_chuseok_effect_is_learnt_with_holidays_on():
    """The proof: Prophet trained to 2024-08-31 forecasts September 2024; on the Chuseok week
    (14-20 September, Chuseok 16-18) its WAPE falls from ~0.47 without holidays to ~0.05 with them."""
    ts, y, truth = _chuseok_sales()
    cut = int(np.searchsorted(ts, pd.Timestamp("2024-09-01")))
    dg = DatasetGroup(target=pd.DataFrame({"item_id": "shop", "timestamp": ts[:cut], "target_value": y[:cut]}),
                      frequency="D")
    H = 30
    fts, fut = ts[cut:cut + H], truth[cut:cut + H]
    week = (fts >= "2024-09-14") & (fts <= "2024-09-20")
    days = (fts >= "2024-09-16") & (fts <= "2024-09-18")
    wape = {}
    p50 = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for on in (False, True):
            est = make_estimator("Prophet", H, n_jobs=1, holidays={"CountryCode": "KR"} if on else None)
            p50[on] = est.train(dg).predict()["p50"].to_numpy()
            wape[on] = np.abs(p50[on][week] - fut[week]).sum() / fut[week].sum()
    assert wape[True] < 0.1 < 0.3 < wape[False]
    assert (p50[True][days] > 2.2 * 100).all() and (p50[False][days] < 1.5 * 100).all()


def test_several_seasons_at_once_mstl_beats_single_season_models():
    """Hourly data with a daily and a weekly season: MSTL (24 and 168) forecasts the next week far
    better than ETS and seasonal naive with the daily season alone."""
    H, T = 168, 24 * 7 * 6
    t = np.arange(T + H)
    truth = 100 * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * (1 + 0.25 * np.sin(2 * np.pi * t / 168))
    y = truth[:T] * (1 + np.random.default_rng(0).normal(0, 0.05, T))
    dg = DatasetGroup(target=pd.DataFrame({"item_id": "s", "timestamp": pd.date_range("2024-01-01", periods=T, freq="h"),
                                           "target_value": y}), frequency="H")
    mae = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("MSTL", "ETS", "SeasonalNaive"):
            p50 = make_estimator(name, H).train(dg).predict()["p50"].to_numpy()
            mae[name] = np.abs(p50 - truth[T:]).mean()
    assert mae["MSTL"] < 3.0
    assert mae["MSTL"] * 3 < mae["SeasonalNaive"] and mae["MSTL"] * 3 < mae["ETS"]
