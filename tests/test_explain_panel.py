"""ExplainabilityPanel driven without a browser: its bars, table, notes and the item drill-down."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from fc_core.algorithms.baselines import SeasonalNaiveEstimator  # noqa: E402
from fc_core.algorithms.gbm import GBMEstimator  # noqa: E402
from fc_core.errors import NotTrainedError  # noqa: E402
from fc_widgets import ExplainabilityPanel  # noqa: E402
from fc_widgets.explain import plotting  # noqa: E402

from test_explain import FAST, H, known_answer  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    return known_answer(n=8, L=120)


@pytest.fixture(scope="module")
def gbm(panel):
    return GBMEstimator(H, seed=0, **FAST).train(panel)


def _png_shown(out):
    return len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"][:8] == "iVBORw0K"


def test_predictor_bars_are_blue_for_raising_and_red_for_lowering(gbm):
    p = ExplainabilityPanel(gbm)
    assert p.error_text == ""
    assert _png_shown(p.chart)
    ax = p.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    bars = dict(zip(labels, ax.patches))
    table = p.explanation.predictor_level().set_index("attribute")
    for attr, bar in bars.items():
        color = plotting.RAISES_COLOR if table.loc[attr, "raw_impact_score"] > 0 else plotting.LOWERS_COLOR
        assert np.allclose(bar.get_facecolor()[:3], tuple(int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)))
        assert bar.get_width() == pytest.approx(abs(table.loc[attr, "normalized_impact_score"]))
    assert bars["price"].get_width() == pytest.approx(1.0)  # price is the strongest, and it lowers demand
    assert np.allclose(bars["price"].get_facecolor()[:3], (214 / 255, 39 / 255, 40 / 255))
    assert "price" in p.table.value and "TreeSHAP" in p.summary.value


def test_item_drill_down_and_impact_over_time(gbm):
    p = ExplainabilityPanel(gbm)
    assert p.item_explanation is None and p.item_figure is None
    p.item.select("i03")
    p.run_button.click()
    assert p.error_text == ""
    e = p.item_explanation
    assert e.level == "forecast" and set(e.frame["item_id"]) == {"i03"}
    assert _png_shown(p.item_chart) and _png_shown(p.time_chart)
    lines = p.time_figure.axes[0].get_lines()
    named = {ln.get_label(): ln for ln in lines if not ln.get_label().startswith("_")}
    assert set(named) == {"noise", "price", "segment"}
    price = e.item("i03")["price"].to_numpy()
    np.testing.assert_allclose(named["price"].get_ydata(), price)
    assert "i03" in p.time_caption.value


def test_models_without_attributes_and_bad_input_are_said(panel):
    naive = SeasonalNaiveEstimator(H).train(panel)
    p = ExplainabilityPanel(naive, item="i01")
    assert "no impact scores" in p.summary.value
    assert "no attributes" in p.figure.axes[0].get_title()
    assert "no impact scores" in p.item_status.value
    p.item.search.value = "zzz"
    p.explain_item()
    assert "no item matches" in p.error_text
    with pytest.raises(NotTrainedError):
        ExplainabilityPanel(SeasonalNaiveEstimator(H).predictor_class(SeasonalNaiveEstimator(H), panel))


# ------------------------------------------------------------ real browser
@pytest.mark.browser
@pytest.mark.slow
def test_panel_in_a_real_browser_drills_into_an_item(tmp_path):
    """explainability.ipynb in Voila, driven in headless Chromium: the bars are drawn, an item is
    picked and explained, its impact-over-time chart appears (screenshot for the README)."""
    import os
    from pathlib import Path

    from test_browser import ARGS, CHROMIUM, ROOT, WAIT_MS, _requirements, _server, _with_parameters

    _requirements()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("FC_SCREENSHOT_DIR") or tmp_path)
    _with_parameters(ROOT / "notebooks" / "explainability.ipynb", tmp_path / "explainability.ipynb", n_items=3,
                     days=21, forecast_horizon=12, output_dir=str(tmp_path / "out"),
                     algorithm_params={"GBM": {"num_trees": 60, "calibration_windows": 1}})
    args = ["voila", "explainability.ipynb", "--no-browser", "--port={port}", "--Voila.ip=127.0.0.1",
            "--token={token}", f"--Voila.root_dir={tmp_path}"]
    with _server(args, tmp_path, "/static/none?token={token}", "voila") as (base, token, log):
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            pg = b.new_page(viewport={"width": 1280, "height": 2000})
            pg.goto(f"{base}/?token={token}", wait_until="commit", timeout=180_000)  # Voila runs the notebook first
            panel = pg.locator(".fc-explain-panel")
            try:
                panel.locator(".fc-chart img").first.wait_for(timeout=180_000)
            except Exception:
                pytest.fail("the notebook did not render in Voila: " + log.read_text()[-3000:])
            expect(panel.locator(".fc-caption").first).to_contain_text("Impact scores of AutoPredictor",
                                                                       timeout=WAIT_MS)
            expect(panel.locator(".fc-explain-table")).to_contain_text("temp", timeout=WAIT_MS)
            panel.locator(".fc-item-dropdown select").select_option("station_2")
            panel.locator(".fc-explain-button").click()
            panel.locator(".fc-explain-time-chart img").wait_for(timeout=WAIT_MS)
            expect(panel.locator(".fc-explain-item-status")).to_contain_text("station_2: GBM: TreeSHAP",
                                                                             timeout=WAIT_MS)
            expect(panel.locator(".fc-caption").last).to_contain_text("Impact over time of station_2",
                                                                      timeout=WAIT_MS)
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=str(shots / "explainability_panel.png"))
            assert (shots / "explainability_panel.png").stat().st_size > 10_000
            b.close()
