"""AutoPredictor: backtest candidate algorithms, rank them, blend them per item, retrain, forecast.

The package's modules: :mod:`.predictor` (:class:`AutoPredictor`, the training loop and forecasts),
:mod:`.presets` (:data:`PRESETS`, the time limit, the windows and the execution plan),
:mod:`.ensemble` (scores, blend weights, per-item choices, fallbacks), :mod:`.results` (leaderboard,
evaluation, plots, explanations, costs), :mod:`.persistence` (save and load) and :mod:`.streaming` (forecasts
in item chunks, written as a folder of part files). Every name of the
former single module ``fc_core.automl`` is importable from here.
"""
from .ensemble import (_blend_arrays, _blend_candidates, _choice_array, _choice_frame, _concat_panels,
                       _fallback_summaries, _greedy_weights, _best_single, _MetricsWithCustom, _WindowResult,
                       choice_label, fallback_text)
from .persistence import _legacy_choice, _read_choices, _slug
from .predictor import AutoPredictor
from .presets import (_COST_RANK, _FINAL_FACTOR, _FIRST_WINDOW_SHARE, DEFAULT_ALGORITHMS, DEFAULT_PRESET,
                      DEFAULT_SWITCH_MARGIN, ENSEMBLE, OPTIMIZATION_METRICS, PRESET_NAMES, PRESETS, SWITCH_MARGINS, _NoBar,
                      _notify, _on_scheduler, _Plan, _progress)

__all__ = ["AutoPredictor", "PRESETS", "PRESET_NAMES", "DEFAULT_PRESET", "OPTIMIZATION_METRICS", "DEFAULT_ALGORITHMS", "ENSEMBLE",
           "SWITCH_MARGINS", "DEFAULT_SWITCH_MARGIN", "choice_label", "fallback_text"]
