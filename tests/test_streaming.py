"""Forecasts in item chunks (issue 17): AutoPredictor.forecast_chunks / forecast_to and export_parts."""
from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pandas as pd
import pytest

from fc_core import AutoPredictor, DatasetGroup
from fc_core.errors import ConfigError, DataError, TrainingStopped
from fc_core.forecast import PARTS_MANIFEST, export_parts


def _group(n=30, days=100, seed=2, cold=()):
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days, freq="D")
    weekly = np.array([1, .9, .9, 1, 1.2, 1.5, 1.3])[ts.dayofweek]
    level = rng.uniform(2, 40, (n, 1))
    y = rng.poisson(level * np.where(rng.random((n, 1)) < .5, weekly, 1.0)).astype(float)
    ids = [f"it{i:02d}" for i in range(n)]
    target = pd.DataFrame({"item_id": np.repeat(ids, days), "timestamp": np.tile(ts, n), "demand": y.ravel()})
    if not cold:
        return DatasetGroup(domain="RETAIL", frequency="D", target=target)
    meta = pd.DataFrame({"item_id": ids + list(cold), "category": ["x", "y"] * (n // 2) + ["x"] * len(cold)})
    return DatasetGroup(domain="RETAIL", frequency="D", target=target, item_metadata=meta, cold_start=True)


@pytest.fixture(scope="module")
def two():
    """SeasonalNaive and NPTS; two items choose their own pair, one item ends its life in the horizon."""
    ap = AutoPredictor(14, algorithms=["SeasonalNaive", "NPTS"], backtest_windows=2, item_switch_margin=0.0,
                       end_of_life={"it05": "2024-04-15"})
    ap.train(_group(), progress=False)
    assert set(ap.item_choice_["algorithm"]) == {"AutoPredictor", "NPTS & SeasonalNaive"}
    return ap


@pytest.fixture(scope="module")
def one():
    return AutoPredictor(14, algorithms=["SeasonalNaive"], backtest_windows=1).train(_group(n=25), progress=False)


def test_parquet_parts_equal_the_export_of_forecast(two, tmp_path):
    two.forecast().export(tmp_path / "all.parquet")
    out = two.forecast_to(tmp_path / "parts", chunk_items=12, progress=False)
    files = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert files == [PARTS_MANIFEST, "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    want, got = pd.read_parquet(tmp_path / "all.parquet"), pd.read_parquet(out)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.columns) == ["item_id", "date", "p10", "p50", "p90", "mean"]
    assert str(got["date"].dtype) == "datetime64[ns, UTC]" and len(got) == 30 * 14
    # the item that ends its life on 2024-04-15 forecasts 0 after it, in its chunk as in forecast()
    eol = got.loc[(got["item_id"] == "it05") & (got["date"] > "2024-04-15"), "mean"]
    assert len(eol) == 8 and (eol == 0).all()
    man = json.loads((tmp_path / "parts" / PARTS_MANIFEST).read_text())
    assert (man["parts"], man["items"], man["rows"], man["chunk_items"]) == (3, 30, 420, 12)
    assert [len(pd.read_parquet(tmp_path / "parts" / f)) for f in man["files"]] == [12 * 14, 12 * 14, 6 * 14]
    assert man["cold_start_items_from_chunk_donors"] == 0 and man["drawn_per_chunk"] == []


def test_single_estimator_parts_in_parquet_and_csv(one, tmp_path):
    one.forecast().export(tmp_path / "all.parquet")
    got = pd.read_parquet(one.forecast_to(tmp_path / "pq", chunk_items=10, progress=False))
    pd.testing.assert_frame_equal(got, pd.read_parquet(tmp_path / "all.parquet"), check_exact=True)
    one.forecast().export(tmp_path / "all.csv")
    one.forecast_to(tmp_path / "csv", chunk_items=10, fmt="csv", timestamps="amazon", progress=False)
    parts = sorted((tmp_path / "csv").glob("part-*.csv"))
    assert [p.name for p in parts] == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    both = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(both, pd.read_csv(tmp_path / "all.csv"), check_exact=True)
    assert both["date"].iloc[0] == "2024-04-10T00:00:00Z"


def test_forecast_chunks_concatenate_to_forecast_and_select_items(two):
    chunks = list(two.forecast_chunks(chunk_items=7))
    assert [len(c.items) for c in chunks] == [7, 7, 7, 7, 2]
    full = two.forecast().frame
    pd.testing.assert_frame_equal(pd.concat([c.frame for c in chunks], ignore_index=True), full, check_exact=True)
    pick = ["it03", "it17", "it29"]
    sel = list(two.forecast_chunks(chunk_items=2, items=pick))
    pd.testing.assert_frame_equal(pd.concat([c.frame for c in sel], ignore_index=True),
                                  two.forecast(items=pick).frame, check_exact=True)
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ConfigError, match="chunk_items must be a positive whole number"):
            next(two.forecast_chunks(chunk_items=bad))
    with pytest.raises(ConfigError, match="nope"):
        two.forecast_to("unused", items=["nope"], progress=False)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_interrupt_leaves_nothing_at_the_target_and_keeps_an_earlier_folder(two, tmp_path, monkeypatch):
    target = tmp_path / "parts"
    real = type(two)._forecast_rows
    calls = []

    def flaky(self, panel, rows, choice):
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, panel, rows, choice)

    monkeypatch.setattr(type(two), "_forecast_rows", flaky)
    with pytest.raises(KeyboardInterrupt):
        two.forecast_to(target, chunk_items=12, progress=False)
    assert calls == [12, 12] and not target.exists() and _leftovers(tmp_path) == []
    assert two.cost_log_.records[-1].status == "interrupted"

    monkeypatch.setattr(type(two), "_forecast_rows", real)
    two.forecast_to(target, chunk_items=30, progress=False)  # an earlier complete folder, one part
    before = pd.read_parquet(target)
    monkeypatch.setattr(type(two), "_forecast_rows", flaky)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        two.forecast_to(target, chunk_items=12, progress=False)
    assert sorted(p.name for p in target.iterdir()) == [PARTS_MANIFEST, "part-00000.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(target), before)
    assert _leftovers(tmp_path) == []


def test_callback_reports_each_chunk_and_can_stop_without_a_bar(two, tmp_path, capsys):
    seen = []
    two.forecast_to(tmp_path / "a", chunk_items=12, progress=False, callback=seen.append)
    assert [(s["stage"], s["chunk"], s["chunks"], s["items_done"], s["items"]) for s in seen] == [
        ("forecast", 0, 3, 12, 30), ("forecast", 1, 3, 24, 30), ("forecast", 2, 3, 30, 30)]
    assert all(s["elapsed"] >= 0 for s in seen)
    assert capsys.readouterr().err == ""  # progress=False: no bar

    def stop(info):
        if info["chunk"] == 1:
            raise TrainingStopped("stop pressed")

    with pytest.raises(TrainingStopped):
        two.forecast_to(tmp_path / "b", chunk_items=12, progress=False, callback=stop)
    assert not (tmp_path / "b").exists() and _leftovers(tmp_path) == []

    two.forecast_to(tmp_path / "c", chunk_items=12, progress=True)
    assert "forecast chunk 3/3" in capsys.readouterr().err


def test_refuses_to_replace_other_folders_files_and_urls(two, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds other files"):
        two.forecast_to(tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "f.parquet").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        two.forecast_to(tmp_path / "f.parquet", progress=False)
    with pytest.raises(ConfigError, match="local folder"):
        two.forecast_to("s3://bucket/forecasts", progress=False)
    with pytest.raises(ConfigError, match="'parquet' or 'csv'"):
        two.forecast_to(tmp_path / "x", fmt="json", progress=False)
    (tmp_path / "empty").mkdir()
    assert pd.read_parquet(two.forecast_to(tmp_path / "empty", progress=False)).shape == (420, 6)


def test_export_parts_writes_any_forecast_chunks(tmp_path):
    from fc_core.forecast import Forecast

    def chunk(ids, start):
        ts = pd.date_range(start, periods=2, freq="D")
        return Forecast(pd.DataFrame({"item_id": np.repeat(ids, 2), "timestamp": np.tile(ts, len(ids)),
                                      "p50": np.arange(2.0 * len(ids)), "mean": 1.5}), ["item_id"])

    seen = []
    out = export_parts(iter([chunk(["a", "b"], "2024-01-01"), chunk(["c"], "2024-01-01")]), tmp_path / "p",
                       timestamps="local", on_part=seen.append)
    got = pd.read_parquet(out)
    assert got["item_id"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert got["p50"].tolist() == [0.0, 1.0, 2.0, 3.0, 0.0, 1.0] and str(got["date"].dtype) == "datetime64[ns]"
    assert [(s["part"], s["items"], s["rows"]) for s in seen] == [(0, 2, 4), (1, 1, 2)]
    bad = Forecast(pd.DataFrame({"item_id": ["d"], "timestamp": [pd.Timestamp("2024-01-01")], "p90": [1.0]}),
                   ["item_id"])
    with pytest.raises(ConfigError, match="chunk 1 has columns"):
        export_parts(iter([chunk(["a"], "2024-01-01"), bad]), tmp_path / "q")
    assert not (tmp_path / "q").exists()


def test_cold_start_items_in_chunks_are_said(tmp_path):
    ap = AutoPredictor(14, algorithms=["SeasonalNaive"], backtest_windows=1)
    ap.train(_group(n=20, cold=("new1", "new2")), progress=False)
    full = ap.forecast()
    # one chunk: every item with history is a donor, as in forecast()
    pd.testing.assert_frame_equal(pd.read_parquet(ap.forecast_to(tmp_path / "one", chunk_items=50, progress=False)),
                                  full.to_export_frame(as_text=False), check_exact=True)
    with pytest.warns(UserWarning, match="2 cold-start item"):
        out = ap.forecast_to(tmp_path / "many", chunk_items=8, progress=False)
    man = json.loads((tmp_path / "many" / PARTS_MANIFEST).read_text())
    assert man["cold_start_items_from_chunk_donors"] == 2
    got = pd.read_parquet(out)
    want = full.to_export_frame(as_text=False)
    warm = ~want["item_id"].isin(["new1", "new2"])
    pd.testing.assert_frame_equal(got[warm], want[warm], check_exact=True)
    # the cold items (category x) are forecast in the last chunk (it16 .. it19, new1, new2) as the mean of
    # that chunk's category-x items, it16 and it18; forecast() averages it00, it02, ... it18
    mean_of = lambda frame, ids: np.mean([frame.loc[frame["item_id"] == i, "mean"].to_numpy() for i in ids], axis=0)
    np.testing.assert_allclose(mean_of(got, ["new1"]), mean_of(got, ["it16", "it18"]), rtol=1e-12)
    np.testing.assert_allclose(mean_of(want, ["new2"]), mean_of(want, [f"it{i:02d}" for i in range(0, 20, 2)]),
                               rtol=1e-12)


def test_candidates_drawing_one_random_stream_per_call_are_said(two, tmp_path, monkeypatch):
    from fc_core.algorithms.base import Predictor
    from fc_core.algorithms.deepar import DeepARPlusPredictor
    from fc_core.algorithms.npts import NPTSPredictor

    assert DeepARPlusPredictor.shared_draws and not NPTSPredictor.shared_draws and not Predictor.shared_draws
    monkeypatch.setattr(type(two.predictors_["NPTS"]), "shared_draws", True)
    with pytest.warns(UserWarning, match="NPTS draw"):
        two.forecast_to(tmp_path / "a", chunk_items=12, progress=False)
    assert json.loads((tmp_path / "a" / PARTS_MANIFEST).read_text())["drawn_per_chunk"] == ["NPTS"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two.forecast_to(tmp_path / "b", chunk_items=30, progress=False)  # one chunk: forecast()'s draws
    assert json.loads((tmp_path / "b" / PARTS_MANIFEST).read_text())["drawn_per_chunk"] == []


# ------------------------------------------------------------ backtest scoring
def test_scoring_computes_each_windows_scales_once_and_keeps_no_training_panel(monkeypatch):
    from fc_core import metrics
    from fc_core.panel import Panel

    real, seen = metrics.insample_scale, []

    def counting(insample, n, m):
        seen.append(type(insample).__name__)
        return real(insample, n, m)

    monkeypatch.setattr(metrics, "insample_scale", counting)
    # the windows' training panels (cut by Panel.truncate) are let go before the scoring starts
    cut, alive = Panel.truncate, []

    def truncate(self, *a, **k):
        out = cut(self, *a, **k)
        cuts.append(weakref.ref(out))
        return out

    def score(self, *a, **k):
        gc.collect()
        alive.append(sum(r() is not None for r in cuts))
        return real_score(self, *a, **k)

    cuts, real_score = [], AutoPredictor._score
    monkeypatch.setattr(Panel, "truncate", truncate)
    monkeypatch.setattr(AutoPredictor, "_score", score)
    ap = AutoPredictor(14, algorithms=["SeasonalNaive", "NPTS"], backtest_windows=2, item_switch_margin=0.0)
    ap.train(_group(), progress=False)
    assert len(cuts) >= 2 and alive == [0]
    # one vectorised pass over each window's training data; every later evaluation reads the kept scales
    assert seen.count("Panel") == 2 and len(seen) > 10 and set(seen) == {"Panel", "_ScoredItems"}
    assert ap.leaderboard_["MASE"].notna().all()


def test_scored_items_give_the_scales_of_the_panels_bit_for_bit():
    from fc_core import metrics
    from fc_core.automl.ensemble import _concat_panels, _ScoredItems

    panel = _group(n=12, days=60).to_panel()
    a, b = panel.select(np.arange(0, 7)), panel.truncate(pd.Timestamp("2024-02-10")).select(np.arange(3, 12))
    both = _ScoredItems.concat([_ScoredItems.of(a, 7), _ScoredItems.of(b, 7)])
    pooled = _concat_panels([a, b])
    np.testing.assert_array_equal(both.scale, metrics.insample_scale(pooled, pooled.n_series, 7))
    assert both.key_strings("|").tolist() == pooled.key_strings("|").tolist()
    y = np.arange(16 * 3, dtype=float).reshape(16, 3)
    from fc_core.quantiles import ForecastArrays

    fa = ForecastArrays(np.array([0.1, 0.5, 0.9]), np.stack([y - 1, y, y + 2], axis=-1), y + 0.5,
                        pd.DatetimeIndex(["2024-03-01"] * 16))
    ok = np.ones_like(y, bool)
    p1, o1 = metrics.evaluate(y, ok, fa, pooled, 7)
    p2, o2 = metrics.evaluate(y, ok, fa, both, 7)
    pd.testing.assert_frame_equal(p1, p2, check_exact=True)
    assert o1 == o2
    with pytest.raises(ConfigError, match="season 7; scoring asks for 16 items and season 24"):
        metrics.evaluate(y, ok, fa, both, 24)


def test_forecast_frame_builds_one_date_range_per_distinct_start(monkeypatch):
    from fc_core import frequency as fq
    from fc_core.algorithms.base import to_forecast_frame
    from fc_core.panel import Panel
    from fc_core.quantiles import ForecastArrays

    starts = pd.DatetimeIndex(["2024-01-01", "2024-03-01", "2024-01-01", "2024-01-01"])
    panel = Panel(keys=pd.DataFrame({"item_id": list("abcd")}), starts=starts, indptr=np.arange(5), values=np.ones(4),
                  observed=np.ones(4, bool), frequency="M")
    arr = ForecastArrays(np.array([0.5]), np.arange(12.0).reshape(4, 3, 1), np.arange(12.0).reshape(4, 3), starts)
    calls = []
    real = fq.date_range
    monkeypatch.setattr(fq, "date_range", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    f = to_forecast_frame(panel, arr, ["0.5", "mean"])
    assert len(calls) == 2  # not one per item: 100,000 items took 26 s, now 1.5 s
    assert f["timestamp"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01", "2024-04-01", "2024-05-01",
        "2024-01-01", "2024-02-01", "2024-03-01", "2024-01-01", "2024-02-01", "2024-03-01"]
    assert f["p50"].tolist() == list(np.arange(12.0)) and f["item_id"].tolist() == list("aaabbbcccddd")


# ------------------------------------------------------------ releasing the long frames
def _priced(n=12, days=90):
    rng = np.random.default_rng(5)
    ts = pd.date_range("2024-01-01", periods=days + 14, freq="D")
    ids = np.repeat([f"p{i:02d}" for i in range(n)], days + 14)
    price = np.round(rng.uniform(5, 9, n * (days + 14)), 2)
    related = pd.DataFrame({"item_id": ids, "timestamp": np.tile(ts, n), "price": price})
    target = related.loc[related["timestamp"] < ts[days], ["item_id", "timestamp"]].copy()
    target["demand"] = rng.poisson(40 / related.loc[target.index, "price"].to_numpy()).astype(float)
    return DatasetGroup(domain="RETAIL", frequency="D", target=target, related=related)


def test_release_frames_keeps_training_and_forecasts_equal_and_says_what_is_gone(tmp_path):
    from fc_core.whatif import what_if

    kept, released = _priced(), _priced()
    panel = released.to_panel()
    before = repr(released)
    assert released.release_frames() is panel and released.frames_released and not kept.frames_released
    assert repr(released) == before and released.related_columns == ["price"]
    for use in (lambda g: g.target["timestamp"], lambda g: len(g.related), lambda g: g.summary(),
                lambda g: g.copy(), lambda g: what_if(g, "price", 0.9)):
        with pytest.raises(ConfigError, match="released by release_frames"):
            use(released)
    kw = dict(algorithms=["SeasonalNaive", "NPTS"], backtest_windows=2, item_switch_margin=0.0)
    a = AutoPredictor(14, **kw).train(kept, progress=False)
    b = AutoPredictor(14, **kw).train(released, progress=False)
    pd.testing.assert_frame_equal(a.leaderboard_, b.leaderboard_, check_exact=True)
    pd.testing.assert_frame_equal(a.forecast().frame, b.forecast(data=released).frame, check_exact=True)
    assert b.plot(items=["p01"]) is not None
    # the related horizon is checked on the packed series (candidates that train with the price)
    AutoPredictor(14, algorithms=["GBM"])._check_related_future(released, panel)
    with pytest.raises(DataError, match="related series stop before the forecast horizon for 12 item"):
        AutoPredictor(15, algorithms=["GBM"])._check_related_future(released, panel)
    pd.testing.assert_frame_equal(pd.read_parquet(b.forecast_to(tmp_path / "p", chunk_items=5, progress=False)),
                                  a.forecast().to_export_frame(as_text=False), check_exact=True)
