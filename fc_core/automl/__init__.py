"""AutoPredictor: backtest candidate algorithms, rank them, blend them per item, retrain, forecast.

The implementation is in :mod:`.predictor`; every name of the former module ``fc_core.automl`` is
importable from here.
"""
from .predictor import *  # noqa: F401,F403
from .predictor import (_COST_RANK, _FINAL_FACTOR, _FIRST_WINDOW_SHARE, _blend_arrays, _blend_candidates,  # noqa: F401
                        _choice_array, _choice_frame, _concat_panels, _fallback_summaries, _legacy_choice,
                        _MetricsWithCustom, _NoBar, _notify, _on_scheduler, _Plan, _progress, _read_choices, _slug,
                        _WindowResult)
