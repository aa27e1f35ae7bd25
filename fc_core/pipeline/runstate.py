"""The record of one pipeline run and the small helpers a run uses (split from :mod:`fc_core.pipeline.core`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import DataError


@dataclass
class RunResult:
    """What one run did."""

    run_id: int
    status: str = "running"          # ok | unchanged | no_data | failed | interrupted
    files_new: list = field(default_factory=list)
    files_quarantined: list = field(default_factory=list)   # (path, reason)
    data_version: int | None = None
    monitored: dict | None = None     # the accuracy row of the scored forecast
    trigger: str | None = None        # first_run | threshold | schedule | manual | None
    trigger_reason: str = ""
    predictor_version: int | None = None
    forecast_version: int | None = None
    published_version: int | None = None
    exported_to: str | None = None
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)   # seconds per step: ingest, monitor, train, forecast, publish
    messages: list = field(default_factory=list)

    def __repr__(self) -> str:
        mon = "" if not self.monitored else f", monitored {self.monitored['metric']}={self.monitored['value']:.4f}"
        return (f"RunResult(run {self.run_id}: {self.status}, new files {len(self.files_new)}, quarantined "
                f"{len(self.files_quarantined)}, data v{self.data_version}{mon}, retrain={self.trigger}, predictor "
                f"v{self.predictor_version}, forecast v{self.forecast_version}, published v{self.published_version}, "
                f"{self.seconds:.1f} s)")



class _Lazy:
    def __init__(self, make: Callable):
        self._make, self._done, self._value = make, False, None

    def get(self):
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value

    def set(self, value):
        self._value, self._done = value, True


class _Clock:
    def __init__(self, into: dict):
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = round(now - self.t, 3)
        self.t = now


def _stack(files: list[dict], keys: list[str]) -> pd.DataFrame:
    """The good files in name order; a later file's row replaces an earlier one's for the same item and time."""
    frame = pd.concat([f["frame"] for f in files], ignore_index=True)
    return frame.drop_duplicates([*keys, "timestamp"], keep="last").reset_index(drop=True)


def _raw_target(group) -> pd.DataFrame:
    from ..panel import FILLED

    t = group.target
    if FILLED in t.columns:
        t = t.loc[~t[FILLED].to_numpy(bool)].drop(columns=FILLED)
    return t.reset_index(drop=True)


def _copy_atomic(src: str, dst: str) -> None:
    """Copy a file (local or URL) so that readers of ``dst`` see the old or the new file, never a part."""
    import shutil

    import fsspec

    from ..io import atomic_path

    with atomic_path(dst) as tmp, fsspec.open(src, "rb") as fi, open(tmp, "wb") as fo:
        shutil.copyfileobj(fi, fo, 1 << 20)


def _refuse_non_finite(frame: pd.DataFrame, keys: list[str]) -> None:
    import numpy as np

    cols = [c for c in frame.columns if c not in (*keys, "timestamp")]
    bad = ~np.isfinite(frame[cols].to_numpy(dtype=float))
    if bad.any():
        items = frame[keys[0]][bad.any(axis=1)].astype(str).unique().tolist()
        raise DataError(f"the new forecast has {int(bad.sum())} non-finite value(s) (inf or NaN) for item(s) "
                        f"{items[:5]}; it is neither recorded nor published, and the previous forecast stays live. "
                        "Check the data of those items (a drop with extreme values?) and retrain.")


def _number(p: Path) -> int:
    digits = "".join(ch for ch in p.name.split(".")[0] if ch.isdigit())
    return int(digits) if digits else -1


def _prune(folder: Path, pattern: str, keep: int, protect=None) -> None:
    """Delete all but the ``keep`` highest-numbered versions; never ``protect`` (the one just written)."""
    import shutil

    items = sorted(folder.glob(pattern), key=_number)
    if protect is not None:
        items = [p for p in items if p.resolve() != Path(protect).resolve()]
        keep = max(keep - 1, 0)
    for p in items[:-keep] if keep else items:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
