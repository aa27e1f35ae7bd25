"""What the torch-based algorithms (DeepAR+, MLP-QR) share: device and threads, and the
maps from item metadata and related series to network inputs.

Nothing here imports torch at module level; the functions that need it import it
when called.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..panel import Panel

DEVICES = ("cpu", "cuda", "auto")


def check_device(device: str) -> None:
    """Refuse a ``device`` setting other than cpu, cuda and auto (without importing torch)."""
    if device not in DEVICES:
        raise ConfigError(f"device={device!r}: use one of {list(DEVICES)}.")


def resolve_device(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a ``device`` setting; ``"auto"`` picks cuda when torch sees a GPU.

    Raises
    ------
    ConfigError
        For an unknown setting, or ``"cuda"`` on a machine where torch sees no GPU.
    """
    import torch

    check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but torch sees no CUDA GPU here; use device='auto' or 'cpu'.")
    return device


@contextlib.contextmanager
def torch_threads(n, device: str):
    """Run torch with ``n`` CPU threads inside the block (CPU only), then restore the setting."""
    import torch

    if n is None or device != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def gather_windows(values: np.ndarray, indptr: np.ndarray, lengths: np.ndarray, rows: np.ndarray,
                   first: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of packed series: ``values`` of series ``rows`` at positions ``first .. first + width - 1``
    (``indptr``/``lengths`` as in :class:`~fc_core.panel.Panel`) as (B, width[, F]), and the mask of
    the positions that lie inside the series (outside ones hold arbitrary values)."""
    pos = first[:, None] + np.arange(width)[None, :]
    inside = (pos >= 0) & (pos < lengths[rows][:, None])
    flat = np.clip(indptr[rows][:, None] + np.clip(pos, 0, None), 0, max(len(values) - 1, 0))
    out = values[flat] if len(values) else np.zeros(pos.shape + values.shape[1:], dtype=values.dtype)
    return out, inside


def neutral_unseen_embeddings(embeddings, codes: np.ndarray) -> None:
    """Rows of ``embeddings`` (one torch ``Embedding`` per metadata column) whose code no training
    series had (0 = missing or unseen, or a value found only on items too short to train on) get the
    mean of the learned rows instead of their untrained random start. ``codes``: the training codes."""
    import torch

    with torch.no_grad():
        for emb, col in zip(embeddings, codes.T):  # no metadata columns: nothing to do
            seen = np.zeros(emb.weight.shape[0], dtype=bool)
            seen[np.unique(col)] = True
            if seen.any() and not seen.all():
                emb.weight[torch.as_tensor(~seen)] = emb.weight[torch.as_tensor(seen)].mean(dim=0)


def static_spec(panel: Panel, max_categories: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Metadata columns with at least one value (at most ``max_categories``), and their sorted values."""
    cols, cats = [], []
    if panel.static is not None:
        for c in panel.static.columns:
            vals = sorted(set(panel.static[c].astype(str)) - {""})
            if vals and (max_categories is None or len(vals) <= max_categories):
                cols.append(str(c))
                cats.append(vals)
    return cols, cats


def static_codes(panel: Panel, columns: list[str], categories: list[list[str]]) -> np.ndarray:
    """Integer codes (n, C) of the metadata ``columns``; 0 = missing or unseen in training."""
    codes = np.zeros((panel.n_series, len(columns)), dtype=np.int64)
    if panel.static is None:
        return codes
    for j, c in enumerate(columns):
        if c in panel.static.columns:
            codes[:, j] = pd.Index(categories[j]).get_indexer(panel.static[c].astype(str).to_numpy()) + 1
    return codes


def related_stats(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each related column over the items' histories
    (0 and 1 where undefined), for standardising network inputs."""
    if panel.related is None or not len(panel.related_names):
        return np.zeros(0), np.zeros(0)
    past = np.concatenate([panel.related_series(i)[:int(n)] for i, n in enumerate(panel.lengths)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(past, axis=0), np.nanstd(past, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return mean, std


def standardise(related: np.ndarray, mean, std) -> np.ndarray:
    """Related values scaled per column; missing values become 0 (the mean)."""
    z = (related - np.asarray(mean)) / np.asarray(std)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
