"""Saving and loading an AutoPredictor: JSON config, Parquet tables, sub-predictors; no pickle.

Per-item choices saved before they were tuples (labels joined on ``+``) are read back with
:func:`_legacy_choice`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..algorithms.base import Predictor, read_artifact
from ..io import atomic_dir, load_panel, save_panel
from .ensemble import _choice_frame
from .presets import ENSEMBLE, OPTIMIZATION_METRICS


class _PersistenceMixin:
    """:meth:`save` and :meth:`load` of the AutoPredictor."""

    # ---------------------------------------------------------------- persist
    def save(self, path, key=None) -> Path:
        """Save to folder ``path``: JSON config, Parquet tables, sub-predictors; no pickle; atomic.
        ``key`` (:func:`fc_core.security.generate_key`) encrypts it."""
        self._check()
        if key is not None:
            from ..security import save_encrypted

            return save_encrypted(self.save, path, key, kind="auto_predictor")
        with atomic_dir(path) as tmp:
            save_panel(self.panel, tmp / "panel")
            for a, p in self.predictors_.items():
                p.save(tmp / "predictors" / _slug(a))
            self.leaderboard_.to_parquet(tmp / "leaderboard.parquet", index=False)
            self.item_metrics_.to_parquet(tmp / "item_metrics.parquet", index=False)
            self.item_choice_.astype({c: str for c in self.panel.key_columns}).to_parquet(tmp / "item_choice.parquet", index=False)
            self.backtest_frame_.to_parquet(tmp / "backtest_forecasts.parquet", index=False)
            if self.skipped_items_ is not None:
                self.skipped_items_.astype({c: str for c in self.panel.key_columns}).to_parquet(tmp / "skipped_items.parquet", index=False)
            if self.history_choice_ is not None:
                self.history_choice_.to_parquet(tmp / "history_choice.parquet", index=False)
            doc = {"fc_core_artifact": "auto_predictor", "version": 1, "config": self.config(),
                   "weights": self.weights_, "ensemble_check_": self.ensemble_check_, "item_switch_margin_": self.item_switch_margin_, "failed": self.failed_, "fallbacks": self.fallbacks_, "timings": self.timings_, "plan": self.plan_,
                   "size_aware": {"default": self._size_aware, "windows_given": self._windows_given, "plan": self.size_plan_},
                   "target_field": self.target_field, "predictors": {a: _slug(a) for a in self.predictors_}}
            (tmp / "fc_artifact.json").write_text(json.dumps(doc, indent=2, default=str))
        return Path(path)

    @classmethod
    def load(cls, path, key=None) -> "AutoPredictor":
        """Load an AutoPredictor saved by :meth:`save` (``key``: the one it was encrypted with).

        Raises
        ------
        ArtifactError
            If the folder was not written by :meth:`save`, or for a missing or wrong key.
        """
        from ..security import open_artifact

        with open_artifact(path, key, kind="auto_predictor") as folder:
            return cls._load_plain(folder)

    @classmethod
    def _load_plain(cls, folder: Path) -> "AutoPredictor":
        from ..security import safe_name

        doc = read_artifact(folder, "auto_predictor")
        for s in doc.get("predictors", {}).values():
            safe_name(s, f"{folder / 'fc_artifact.json'} (predictors)")
        config = dict(doc["config"])
        metric = config.get("optimization_metric")
        if metric not in OPTIMIZATION_METRICS:  # a custom metric: its scores are saved, not the function
            config["optimization_metric"] = "AverageWeightedQuantileLoss"
        self = cls(**config)
        self.optimization_metric = metric
        self.plan_ = doc.get("plan", [])
        size = doc.get("size_aware", {})  # the size-aware default: still on (for retrain) and what it chose
        self._size_aware = bool(size.get("default", False))
        self._windows_given = bool(size.get("windows_given", self._windows_given))
        self.size_plan_ = self._size_now = dict(size.get("plan", {}))
        self.panel = load_panel(folder / "panel")
        self.predictors_ = {a: Predictor.load(folder / "predictors" / s) for a, s in doc["predictors"].items()}
        self.leaderboard_ = pd.read_parquet(folder / "leaderboard.parquet")
        self.item_metrics_ = pd.read_parquet(folder / "item_metrics.parquet")
        self.item_choice_ = _read_choices(folder / "item_choice.parquet", set(self.predictors_) | set(self.algorithms))
        self.backtest_frame_ = pd.read_parquet(folder / "backtest_forecasts.parquet")
        sk = folder / "skipped_items.parquet"
        self.skipped_items_ = pd.read_parquet(sk) if sk.exists() else None
        hc = folder / "history_choice.parquet"
        self.history_choice_ = pd.read_parquet(hc) if hc.exists() else None
        self.weights_ = doc["weights"]
        self.item_switch_margin_ = doc.get("item_switch_margin_")
        self.ensemble_check_ = doc.get("ensemble_check_", {})
        self.failed_ = doc["failed"]
        self.fallbacks_ = doc.get("fallbacks", {})
        self.timings_ = doc["timings"]
        self.target_field = doc["target_field"]
        self.trained = True
        return self


def _legacy_choice(label: str, known: set) -> tuple:
    """A label saved before choices were tuples (``"DeepAR++GBM"``: names joined on ``+``), split into
    known names (names may themselves contain ``+``); an unreadable label is the global blend.

    >>> _legacy_choice("DeepAR++GBM", {"DeepAR+", "GBM", "ETS"})
    ('DeepAR+', 'GBM')
    >>> _legacy_choice("DeepAR+", {"DeepAR+", "GBM"})
    ('DeepAR+',)
    """
    known = set(known) | {ENSEMBLE}

    def split(rest: str):
        if rest in known:
            return (rest,)
        for name in sorted(known, key=len, reverse=True):
            if rest.startswith(name + "+"):
                tail = split(rest[len(name) + 1:])
                if tail is not None:
                    return (name, *tail)
        return None

    return split(label) or (ENSEMBLE,)


def _read_choices(path, known: set) -> pd.DataFrame:
    """``item_choice.parquet``, with tuples restored (or rebuilt from an older file's labels)."""
    ch = pd.read_parquet(path)
    if "algorithms" in ch.columns:
        choices = [tuple(str(a) for a in c) for c in ch["algorithms"]]
    else:
        choices = [_legacy_choice(str(lab), known) for lab in ch["algorithm"]]
    return _choice_frame(ch.drop(columns=[c for c in ("algorithm", "algorithms") if c in ch.columns]), choices)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)

