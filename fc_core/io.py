"""Writing files safely: atomic replacement, fsspec URLs, and pickle-free artifacts.

What fc_core writes it writes to a temporary name beside the target and then
renames, so a reader never sees a half-written file and a killed run leaves the
previous file intact.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .errors import ArtifactError


def is_url(path) -> bool:
    """Whether ``path`` is an fsspec URL (``s3://...``, ``memory://...``), not a local path."""
    s = str(path)
    return "://" in s and not s.startswith("file://")


def local_path(path) -> str:
    """``path`` without a ``file://`` prefix (the one rule for local paths written as URLs)."""
    s = str(path)
    return s[len("file://"):] if s.startswith("file://") else s


def _local(path) -> Path:
    return Path(local_path(path))


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary local file path; on success it replaces ``path`` atomically.

    For fsspec URLs the temporary file is uploaded to a temporary key and then
    moved into place.
    """
    if is_url(path):
        import fsspec

        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d) / Path(str(path)).name
            yield tmp
            fs, _, (target,) = fsspec.get_fs_token_paths(str(path))
            part = f"{target}.part-{uuid.uuid4().hex[:8]}"
            fs.put_file(str(tmp), part)
            fs.mv(part, target)
        return
    target = _local(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; the file gets the modes any new file gets
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def umask() -> int:
    """The process's umask (read from /proc where it is, so no other thread sees it changed)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_frame(df: pd.DataFrame, path, fmt: str | None = None, **kwargs) -> str:
    """Write ``df`` as CSV or Parquet (by ``fmt`` or the file suffix), atomically."""
    fmt = (fmt or ("parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv")).lower()
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: use 'csv' or 'parquet'.")
    try:
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                df.to_parquet(tmp, index=False, **kwargs)
            else:
                df.to_csv(tmp, index=False, **kwargs)
    except OSError as exc:  # name the file (Arrow's errors do not), keep the errno
        if exc.filename:
            raise
        code = exc.errno or (28 if "No space left" in str(exc) else None)
        raise OSError(code, exc.strerror or str(exc).strip().splitlines()[0], str(path)) from exc
    return str(path)


@contextlib.contextmanager
def atomic_dir(path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces folder ``path`` as a whole."""
    target = _local(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    os.chmod(tmp, 0o777 & ~umask())
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Save numeric arrays with ``np.savez`` (object arrays refused, so no pickle)."""
    for k, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise TypeError(f"array {k!r} has dtype object; convert it before saving.")
    np.savez(path, **arrays)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ArtifactError(f"{path} holds pickled objects, which fc_core never writes; refusing to load it.") from exc


def save_panel(panel, folder: Path) -> None:
    """Save a :class:`~fc_core.panel.Panel` as Parquet (keys, metadata) + npz (arrays) + JSON."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    panel.keys.astype(str).to_parquet(folder / "keys.parquet", index=False)
    arrays = {"indptr": panel.indptr, "values": panel.values, "observed": panel.observed,
              "starts": panel.starts.values.astype("datetime64[ns]").astype(np.int64)}
    if panel.related is not None:
        arrays["related"] = panel.related
        arrays["related_indptr"] = panel.related_indptr
    save_arrays(folder / "arrays.npz", **arrays)
    if panel.static is not None:
        panel.static.astype(str).to_parquet(folder / "static.parquet", index=False)
    (folder / "panel.json").write_text(json.dumps({"frequency": panel.frequency,
                                                    "related_names": list(panel.related_names),
                                                    "forecast_from": panel.forecast_from}))


def load_panel(folder: Path):
    from .panel import Panel

    folder = Path(folder)
    meta = json.loads((folder / "panel.json").read_text())
    a = load_arrays(folder / "arrays.npz")
    static = pd.read_parquet(folder / "static.parquet") if (folder / "static.parquet").exists() else None
    return Panel(keys=pd.read_parquet(folder / "keys.parquet"),
                 starts=pd.DatetimeIndex(a["starts"].astype("datetime64[ns]")),
                 indptr=a["indptr"], values=a["values"], observed=a["observed"], frequency=meta["frequency"],
                 related=a.get("related"), related_indptr=a.get("related_indptr"),
                 related_names=meta["related_names"], static=static,
                 forecast_from=meta.get("forecast_from", "global_end"))


