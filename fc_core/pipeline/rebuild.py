"""Rebuilding a lost or damaged catalog from the state folder (split from :mod:`fc_core.pipeline.core`)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from .runstate import _number
from .steps import MALFORMED, RunLock, fetch, list_drops, read_drop, sha256


class CatalogRebuild:
    """:meth:`rebuild_catalog` of :class:`~fc_core.pipeline.core.Pipeline`."""

    def rebuild_catalog(self) -> dict:
        """Rebuild a lost or damaged ``catalog.db`` from the state folder; returns what was recorded.

        A damaged catalog is first moved aside (``catalog.db.damaged-<time>``). Data snapshots,
        predictors and forecast files are recorded under their own version numbers (so numbering
        continues and cleanup keeps the newest); the newest predictor and forecast count as made
        from the newest data. Files in the input location whose rows all lie within the newest
        snapshot's time range are recorded as ingested; the rest are read by the next run. The
        newest forecast is recorded as unpublished: the next run publishes it, which adds no version
        when the database already holds it (content hash).
        """
        from .catalog import Catalog, CatalogError

        path = self.state_dir / "catalog.db"
        moved = None
        if path.exists():
            try:
                Catalog(path).engine.dispose()
                raise ConfigError(f"the catalog {path} is readable; nothing to rebuild (move it away first to "
                                  "rebuild it anyway).")
            except CatalogError:
                moved = path.with_name(f"catalog.db.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
                from .publish import _ENGINES

                eng = _ENGINES.pop(f"sqlite:///{path}", None)
                if eng is not None:
                    eng.dispose()
                os.replace(path, moved)
                for ext in ("-wal", "-shm"):
                    side = Path(str(path) + ext)
                    if side.exists():
                        os.replace(side, Path(str(moved) + ext))
        self._catalog = None
        with RunLock(self.state_dir / "pipeline.lock"):
            cat = Catalog(path)
            self._catalog = cat
            out = {"moved_aside": str(moved) if moved else None, "data_versions": [], "predictors": [],
                   "forecasts": [], "files": 0}
            data = None
            for snap in sorted((self.state_dir / "data").glob("v*.parquet"), key=_number):
                f = self._read(snap)
                ts = f["timestamp"]
                v = _number(snap)
                data = {"version": v, "end": ts.max()}
                cat.adopt("data_versions", v, run_id=None, parent=None, content_hash=sha256(snap.read_bytes()),
                          snapshot=str(snap), rows=len(f), items=len(f[self.config.key_columns].drop_duplicates()),
                          start=ts.min(), end=ts.max(), files="[]", created_at=pd.Timestamp.now())
                out["data_versions"].append(v)
            if data is None:
                return out
            pred_v = None
            for folder in sorted((self.state_dir / "predictors").glob("v*"), key=_number):
                if folder.is_dir():
                    pred_v = _number(folder)
                    cat.adopt("predictors", pred_v, data_version=data["version"], data_end=data["end"],
                              trigger="rebuilt", reason="recorded by rebuild-catalog (training data unknown)",
                              path=str(folder), leaderboard="[]", weights="{}", config="{}")
                    out["predictors"].append(pred_v)
            for fpath in sorted((self.state_dir / "forecasts").glob("v*.parquet"), key=_number):
                if pred_v is None:
                    break
                f = self._read(fpath)
                v = _number(fpath)
                cat.adopt("forecasts", v, predictor_version=pred_v, data_version=data["version"], path=str(fpath),
                          start=f["timestamp"].min(), end=f["timestamp"].max(), rows=len(f),
                          items=len(f[self.config.key_columns].drop_duplicates()), created_at=pd.Timestamp.now())
                out["forecasts"].append(v)
            inp = self.config.input
            for p, sig in list_drops(inp["location"], inp["pattern"], detail=True):
                raw = fetch(p)
                try:
                    frame = read_drop(p, raw, inp["domain"], inp["schema"], inp["forecast_dimensions"],
                                      inp["duplicates"], inp["read_options"])
                except MALFORMED:
                    continue
                if len(frame) and frame["timestamp"].max() <= data["end"]:
                    cat._insert(cat.files, sha256=sha256(raw), path=p, size=len(raw), signature=sig,
                                status="ingested", rows=len(frame), data_version=data["version"],
                                recorded_at=pd.Timestamp.now())
                    out["files"] += 1
        return out
