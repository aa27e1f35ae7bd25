"""The getting-started notebook's closing view: the fan chart and the leaderboard panels."""
from __future__ import annotations

from .predictor import LeaderboardPanel
from .quantile import QuantilePanel


def show_results(forecast, history, predictor, interactive: bool = True) -> list:
    """Display a :class:`QuantilePanel` of ``forecast`` over ``history`` and a
    :class:`LeaderboardPanel` of ``predictor`` when ``interactive`` (a person at JupyterLab);
    nothing for a papermill run, whose charts are static. Returns the panels shown."""
    if not interactive:
        return []
    from IPython.display import display

    panels = [QuantilePanel(forecast, history=history), LeaderboardPanel(predictor)]
    for p in panels:
        display(p)
    return panels
