"""The panels in a real browser: Voila serves notebooks/panels_demo.ipynb, headless Chromium
(driven by Playwright) works each panel's controls, and the kernel's answers must show up
on the page. Screenshots of every panel go to a temporary folder, or to $FC_SCREENSHOT_DIR when set:
refresh the README's pictures with ``FC_SCREENSHOT_DIR=docs/screenshots bash scripts/test.sh -m browser``.

Needs ``/usr/bin/chromium`` (``apt-get install -y --no-install-recommends chromium``) and the
pip packages ``playwright`` and ``voila`` (never ``playwright install``: the system browser is used).
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "panels_demo.ipynb"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000


def _requirements():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: apt-get update && "
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need Playwright for Python: pip install playwright (no 'playwright install')")
    try:
        import voila  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need Voila: pip install voila")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_parameters(src: Path, dst: Path, **values) -> None:
    """Copy the notebook with new literal values in its parameters cell (outputs stay empty)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for name, value in values.items():
        pat = re.compile(rf"^{name}: (\w+) = .*?(  # .*)?$")
        hits = [i for i, line in enumerate(lines) if pat.match(line)]
        assert hits, f"parameter {name} not in the notebook's parameters cell"
        m = pat.match(lines[hits[0]])
        lines[hits[0]] = f"{name}: {m.group(1)} = {value!r}{m.group(2) or ''}"
    cell.source = "\n".join(lines)
    nbformat.write(nb, dst)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("FC_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Playwright's sync API allows one driver at a time)."""
    _requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def _server(args, cwd: Path, probe: str, name: str):
    """Start a Jupyter server process (Voila or JupyterLab) on a free port with a random
    token, wait until ``probe`` (a path, given the token) answers, yield its base URL and
    token; always stop the whole process group afterwards (SIGTERM, then SIGKILL)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    log_path = cwd / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", *[a.format(port=port, token=token) for a in args]], cwd=cwd,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:  # any HTTP answer means the server is up
                urllib.request.urlopen(f"{base}{probe.format(token=token)}", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"{name} did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.3)
        yield base, token, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    work = tmp_path_factory.mktemp("voila")
    export = work / "exported.csv"
    _with_parameters(NOTEBOOK, work / "panels_demo.ipynb", demo_items=12, export_path=str(export))
    args = ["voila", "panels_demo.ipynb", "--no-browser", "--port={port}", "--Voila.ip=127.0.0.1", "--token={token}",
            f"--Voila.root_dir={work}", "--show_tracebacks=True"]
    # probing "/" would run the notebook: a missing static file answers 404 once the server is up
    with _server(args, work, "/static/nonexistent?token={token}", "voila") as (base, token, log):
        pg = browser.new_page(viewport={"width": 1280, "height": 2200})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{base}/?token={token}")
        try:  # every panel is rendered once the last cell's panel shows its chart
            pg.locator(".fc-quantile-panel").nth(1).locator(".fc-chart img").wait_for(timeout=240_000)
        except Exception:
            pytest.fail("the notebook did not render in Voila: " + log.read_text()[-3000:])
        pg.export_path = export
        pg.js_errors = errors
        yield pg
        pg.close()


def _expect():
    from playwright.sync_api import expect

    return expect


def _src(panel) -> str:
    return panel.locator(".fc-chart img").first.get_attribute("src")


def _src_changes(panel, old: str) -> str:
    _expect()(panel.locator(".fc-chart img").first).not_to_have_attribute("src", old, timeout=WAIT_MS)
    return _src(panel)


def _caption(panel, text: str) -> None:
    """Wait for the figure caption the kernel writes after the chart."""
    _expect()(panel.locator(".fc-caption")).to_contain_text(text, timeout=WAIT_MS)


def _shot(panel, shots: Path, name: str) -> None:
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(shots / f"{name}.png"))
    assert (shots / f"{name}.png").stat().st_size > 10_000


def test_dataset_panel_imports_and_previews_items(page, shots):
    expect = _expect()
    panel = page.locator(".fc-dataset-panel")
    expect(panel.locator(".fc-import-status")).to_contain_text("12 items, 8,064 rows, frequency H")
    _caption(panel, "Dataset group: client_0, client_1, client_2")
    old = _src(panel)
    panel.locator(".fc-items-select select").select_option(["client_4", "client_7"])
    _caption(panel, "Dataset group: client_4, client_7")
    _src_changes(panel, old)
    items = panel.locator(".fc-demo-items input")
    items.fill("5")
    items.press("Enter")
    panel.locator(".fc-import-button").click()
    expect(panel.locator(".fc-import-status")).to_contain_text("5 items, 3,360 rows", timeout=WAIT_MS)
    expect(panel.locator(".fc-summary")).to_contain_text("items_with_missing")
    expect(panel.locator(".fc-item-count")).to_have_text("5 of 5 items")
    _caption(panel, "Dataset group: client_0, client_1, client_2")  # the first items of the new group
    _shot(panel, shots, "dataset_panel")
    # the panels are linked: the new data reached the backtest panel; import the 12 items again
    expect(page.locator(".fc-backtest-panel")).to_contain_text("5 items, longest history", timeout=WAIT_MS)
    items.fill("12")
    items.press("Enter")
    panel.locator(".fc-import-button").click()
    expect(panel.locator(".fc-import-status")).to_contain_text("12 items, 8,064 rows", timeout=WAIT_MS)
    expect(page.locator(".fc-backtest-panel")).to_contain_text("12 items, longest history", timeout=WAIT_MS)


def test_backtest_panel_windows_and_live_messages(page, shots):
    expect = _expect()
    panel = page.locator(".fc-backtest-panel")
    msgs = panel.locator(".fc-window-messages")
    expect(msgs).to_contain_text("backtest window 2: train to 2014-01-26 23:00")
    old = _src(panel)
    handle = panel.locator(".fc-windows-slider .noUi-handle")
    handle.focus()
    handle.press("End")
    expect(msgs).to_contain_text("backtest window 5: train to 2014-01-23 23:00", timeout=WAIT_MS)
    old = _src_changes(panel, old)
    training = page.locator(".fc-training-panel")  # linked: the training panel follows
    expect(training.locator(".fc-training-windows input")).to_have_value("5", timeout=WAIT_MS)
    handle.press("ArrowLeft")
    handle.press("ArrowLeft")
    expect(msgs).not_to_contain_text("backtest window 4", timeout=WAIT_MS)
    expect(msgs).to_contain_text("backtest window 3")
    old = _src_changes(panel, old)
    horizon = panel.locator(".fc-horizon-slider .noUi-handle")
    horizon.focus()
    horizon.press("End")  # the slider ends at the longest horizon the data allow: a third of 672 hours
    expect(panel.locator(".fc-horizon-slider .widget-readout")).to_have_text("224", timeout=WAIT_MS)
    expect(msgs).to_contain_text("3 backtest windows of 224 steps with offset 224 need more than 672 steps",
                                 timeout=WAIT_MS)
    expect(training.locator(".fc-training-horizon input")).to_have_value("224", timeout=WAIT_MS)
    horizon.press("Home")
    expect(msgs).to_contain_text("test 2014-01-28 23:00 to 2014-01-28 23:00", timeout=WAIT_MS)
    readout = panel.locator(".fc-horizon-slider .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("24")
    page.keyboard.press("Enter")
    expect(msgs).to_contain_text("backtest window 3: train to 2014-01-25 23:00", timeout=WAIT_MS)
    old = _src(panel)
    panel.locator(".fc-item-dropdown select").select_option("client_3")
    _caption(panel, "Backtest windows over item client_3")
    _src_changes(panel, old)
    _shot(panel, shots, "backtest_panel")


def test_training_panel_runs_with_progress(page, shots):
    expect = _expect()
    panel = page.locator(".fc-training-panel")
    # the notebook's run is done; the 12 items imported again (linked) are waiting for Run
    expect(panel.locator(".fc-training-status")).to_contain_text("new data: 12 items")
    panel.locator(".fc-run-button").click()
    expect(panel.locator(".fc-training-status")).to_contain_text("run 2 done", timeout=60_000)
    _shot(panel, shots, "training_panel")


def test_training_panel_shows_live_progress_and_stops(page, shots):
    """A longer run (Theta takes seconds a step; 5 windows): the progress moves while it trains,
    Stop ends it after the current step and keeps the last predictor."""
    expect = _expect()
    panel = page.locator(".fc-training-panel")
    status = panel.locator(".fc-training-status")
    expect(status).to_contain_text("run 2 done", timeout=60_000)
    panel.locator(".fc-algorithms select").select_option(["SeasonalNaive", "Naive", "Theta"])
    windows = panel.locator(".fc-training-windows input")
    windows.fill("5")
    windows.press("Enter")
    expect(page.locator(".fc-backtest-panel .fc-window-messages")).to_contain_text("backtest window 5",
                                                                                   timeout=WAIT_MS)
    # the backtest panel above redraws for 5 windows and the page shifts: a dispatched click
    # reaches the button wherever it is by then
    panel.locator(".fc-run-button").dispatch_event("click")
    expect(status).to_contain_text("backtest window 1/5", timeout=WAIT_MS)  # live, before the run ends
    expect(panel.locator(".fc-stop-button")).to_be_enabled()
    panel.locator(".fc-stop-button").dispatch_event("click")
    expect(status).to_contain_text("of 18 steps; the predictor of the last completed run is kept",
                                   timeout=120_000)
    expect(status).to_contain_text("stopped after")
    expect(panel.locator(".fc-run-button")).to_be_enabled()
    expect(panel.locator(".fc-stop-button")).to_be_disabled()
    _shot(panel, shots, "training_panel_stopped")
    # back to the notebook's settings for the panels below
    panel.locator(".fc-algorithms select").select_option(["SeasonalNaive", "Naive"])
    windows.fill("3")
    windows.press("Enter")
    expect(page.locator(".fc-backtest-panel .fc-window-messages")).not_to_contain_text("backtest window 4",
                                                                                       timeout=WAIT_MS)


def test_leaderboard_panel_metric_and_window(page, shots):
    expect = _expect()
    panel = page.locator(".fc-leaderboard-panel")
    expect(panel.locator(".fc-leaderboard-summary")).to_contain_text("best by AverageWeightedQuantileLoss")
    old = _src(panel)
    panel.locator(".fc-metric select").select_option("WAPE")
    expect(panel.locator(".fc-leaderboard-summary")).to_contain_text("best by WAPE (mean over all backtest windows)",
                                                                      timeout=WAIT_MS)
    old = _src_changes(panel, old)
    panel.locator(".fc-window-select select").select_option(label="window 2")
    expect(panel.locator(".fc-leaderboard-summary")).to_contain_text("best by WAPE (backtest window 2)",
                                                                      timeout=WAIT_MS)
    _src_changes(panel, old)
    expect(panel.locator(".fc-leaderboard-table")).to_contain_text("\u2605")
    _shot(panel, shots, "leaderboard_panel")


def test_quantile_panel_search_band_and_export(page, shots):
    expect = _expect()
    panel = page.locator(".fc-quantile-panel").nth(0)
    old = _src(panel)
    panel.locator(".fc-item-search input").fill("client_7")
    expect(panel.locator(".fc-item-count")).to_contain_text("1 of 12 items", timeout=WAIT_MS)
    expect(panel.locator(".fc-item-dropdown select")).to_have_value("client_7")
    _caption(panel, "Forecast of client_7; band p10 to p90")
    old = _src_changes(panel, old)
    panel.locator(".fc-band select").select_option(label="p10 to p50")
    _caption(panel, "Forecast of client_7; band p10 to p50")
    _src_changes(panel, old)
    panel.locator(".fc-export-button").click()
    expect(panel.locator(".fc-export-status")).to_contain_text("wrote 24 rows of client_7", timeout=WAIT_MS)
    text = page.export_path.read_text().splitlines()
    assert text[0] == "item_id,date,p10,p50,p90,mean" and len(text) == 25
    assert all(line.startswith("client_7,") for line in text[1:])
    _shot(panel, shots, "quantile_panel")


def test_backtest_quantile_panel_window_and_algorithm(page, shots):
    expect = _expect()
    panel = page.locator(".fc-quantile-panel").nth(1)
    old = _src(panel)
    panel.locator(".fc-window-select select").select_option(label="window 2")
    _caption(panel, "Backtest window 2 of client_0 (AutoPredictor)")
    old = _src_changes(panel, old)
    panel.locator(".fc-algorithm-select select").select_option("Naive")
    _caption(panel, "Backtest window 2 of client_0 (Naive)")
    _src_changes(panel, old)
    expect(panel.locator(".fc-values")).to_contain_text("target_value")
    _shot(panel, shots, "quantile_panel_backtest")
    assert not page.js_errors, page.js_errors


def test_errors_show_beside_their_control_and_stale_statuses_go(page, shots):
    expect = _expect()
    # a bad export path: a message right under the Export box, no traceback
    panel = page.locator(".fc-quantile-panel").nth(0)
    panel.locator(".fc-export-path input").fill(str(page.export_path / "x.csv"))  # a file used as a folder
    panel.locator(".fc-export-button").click()
    box = panel.locator(".fc-errors-export")
    expect(box).to_contain_text("cannot write the CSV to", timeout=WAIT_MS)
    expect(box).not_to_contain_text("traceback")
    expect(panel.locator(".fc-export-status")).to_have_text("")
    gap = box.bounding_box()["y"] - panel.locator(".fc-export-path").bounding_box()["y"]
    assert 0 < gap < 80, gap
    # a missing file: said under the path box, and the green import status and summary go
    data = page.locator(".fc-dataset-panel")
    expect(data.locator(".fc-import-status")).to_contain_text("imported")
    data.locator(".fc-source button", has_text="file or URL").click()
    path = data.locator(".fc-path input")
    path.fill("/nonexistent/target.csv")
    path.press("Enter")
    err = data.locator(".fc-errors-path")
    expect(err).to_contain_text("/nonexistent/target.csv", timeout=WAIT_MS)
    gap = err.bounding_box()["y"] - data.locator(".fc-path").bounding_box()["y"]
    assert 0 < gap < 80, gap
    expect(data.locator(".fc-import-status")).not_to_contain_text("imported")
    expect(data.locator(".fc-import-status")).to_contain_text("press Import")
    expect(data.locator(".fc-summary")).to_have_text("")
    _shot(data, shots, "dataset_panel_path_error")


def test_leaderboard_table_scrolls_in_a_1000px_window(page, shots):
    """No column is cut off: in a 1,000 px window the table scrolls inside the panel."""
    page.set_viewport_size({"width": 1000, "height": 2200})
    try:
        panel = page.locator(".fc-leaderboard-panel")
        panel.scroll_into_view_if_needed()
        scroller = panel.locator(".fc-leaderboard-table .fc-table-scroll")
        box = scroller.bounding_box()
        assert box["x"] + box["width"] <= 1000, box
        scroller.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        heads = panel.locator(".fc-leaderboard-table th")
        assert heads.count() > 12  # best, algorithm, the metrics, then counts, weight, timing ...
        last = heads.last
        lb = last.bounding_box()
        box = scroller.bounding_box()
        assert box["x"] - 1 <= lb["x"] and lb["x"] + lb["width"] <= box["x"] + box["width"] + 1, (lb, box)
        _shot(panel, shots, "leaderboard_panel_1000px")
    finally:
        page.set_viewport_size({"width": 1280, "height": 2200})


def test_jupyterlab_runs_the_notebook_and_a_panel_answers(browser, tmp_path, shots):
    """The same notebook in JupyterLab: Run All, then a slider moved in the page changes
    the kernel's message text (the widget comms work in Lab, not only in Voila)."""
    import json

    expect = _expect()
    cfg = tmp_path / "cfg"
    note = cfg / "@jupyterlab" / "apputils-extension"
    note.mkdir(parents=True)
    (note / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                       "checkForUpdates": False}))
    _with_parameters(NOTEBOOK, tmp_path / "panels_demo.ipynb", demo_items=6, export_path=str(tmp_path / "e.csv"))
    args = ["jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", "--port={port}",
            f"--ServerApp.root_dir={tmp_path}", "--IdentityProvider.token={token}",
            "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={cfg}",
            f"--LabApp.workspaces_dir={cfg}"]
    with _server(args, tmp_path, "/api/status?token={token}", "lab") as (base, token, _log):
        pg = browser.new_page(viewport={"width": 1400, "height": 2400})
        pg.goto(f"{base}/lab/tree/panels_demo.ipynb?token={token}&reset")
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                             "window.jupyterapp.shell.currentWidget.sessionContext && "
                             "window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'",
                             timeout=60_000)
        pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Run All: the training panel is on the page while its cell trains, and ends done
        training = pg.locator(".fc-training-panel")
        training.scroll_into_view_if_needed(timeout=90_000)
        expect(training.locator(".fc-training-status")).to_contain_text("run 1 done", timeout=90_000)
        panel = pg.locator(".fc-backtest-panel")
        panel.scroll_into_view_if_needed(timeout=90_000)
        msgs = panel.locator(".fc-window-messages")
        expect(msgs).to_contain_text("backtest window 2: train to", timeout=90_000)
        handle = panel.locator(".fc-windows-slider .noUi-handle")
        handle.focus()
        handle.press("End")
        expect(msgs).to_contain_text("backtest window 5: train to 2014-01-23 23:00", timeout=WAIT_MS)
        _caption(panel, "Backtest windows over all items (sum)")
        expect(training.locator(".fc-training-windows input")).to_have_value("5", timeout=WAIT_MS)  # linked
        panel.screenshot(path=str(shots / "jupyterlab_backtest_panel.png"))
        pg.close()
