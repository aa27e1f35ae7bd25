"""DeepAR+ training and forecasting helpers: interruptible fitting, per-series scaling, cold-start donors,
keeping the best epoch, progress (split from :mod:`fc_core.algorithms.deepar`)."""
from __future__ import annotations

import numpy as np

from ..panel import Panel


def _fit_interruptibly(trainer, module, loader, val_loader=None) -> None:
    """``trainer.fit`` where Ctrl-C raises KeyboardInterrupt.

    Lightning answers Ctrl-C with ``sys.exit(1)`` (after ignoring SIGINT during its
    shutdown), which would end a script with status 1 instead of a traceback and
    would not be caught by ``except KeyboardInterrupt``. We raise KeyboardInterrupt
    instead and make sure the previous SIGINT handler is back.
    """
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    old = signal.getsignal(signal.SIGINT) if main else None
    try:
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader)
    except SystemExit as exc:
        if trainer.interrupted and exc.code == 1:  # Lightning's answer to KeyboardInterrupt
            raise KeyboardInterrupt("DeepAR+ training was interrupted (Ctrl-C).") from None
        raise
    finally:
        if main and old is not None and signal.getsignal(signal.SIGINT) != old:
            signal.signal(signal.SIGINT, old)


def _series_affine(targets: list, mode) -> tuple[np.ndarray, np.ndarray]:
    """Per-series ``(shift, scale)`` applied before the network (``(y - shift) / scale``).

    ``mean``: divide by the mean absolute value. ``standard``: subtract the mean and divide by the
    standard deviation (at least 1e-3 of the mean absolute value), so that a smooth series on a
    high level shows the network its swings rather than its level. ``none`` (or False): unchanged.
    Artifacts saved before ``standard`` existed hold True/False, read as ``mean``/``none``.
    """
    n = len(targets)
    shift, scale = np.zeros(n), np.ones(n)
    if mode is True or mode == "mean":
        return shift, _series_scales(targets)
    if mode == "standard":
        level = _series_scales(targets)
        for i, y in enumerate(targets):
            y = y[np.isfinite(y)]
            if len(y):
                shift[i] = y.mean()
                sd = y.std()
                scale[i] = sd if sd > 1e-3 * level[i] else max(1e-3 * level[i], 1e-12)
    return shift, scale


def _series_scales(targets: list) -> np.ndarray:
    """Mean absolute observed value of each series (1 where it is 0 or unknown)."""
    out = np.ones(len(targets))
    for i, y in enumerate(targets):
        y = np.abs(y[np.isfinite(y)])
        if len(y) and y.mean() > 0:
            out[i] = y.mean()
    return out


def _matching_donors(src: Panel, donors: np.ndarray, meta) -> np.ndarray:
    """Donors sharing all metadata with ``meta``; else those sharing the most columns; else all donors."""
    if meta is None or src.static is None:
        return donors
    cols = [c for c in meta.index if c in src.static.columns and str(meta[c]) != ""]
    if not cols:
        return donors
    same = np.zeros(len(donors), dtype=np.int64)
    for c in cols:
        same += (src.static[c].astype(str).to_numpy()[donors] == str(meta[c]))
    best = same.max(initial=0)
    return donors[same == best] if best > 0 else donors


class _KeepBest:
    """Keeps, in memory, the weights of the epoch with the lowest mean loss: the training loss
    (GluonTS's choice) or, with early stopping, the loss on the held-out last window of each series."""

    def __init__(self, monitor: str = "train"):
        self.monitor = monitor
        self.best, self.best_epoch, self.state = float("inf"), -1, None

    def callback(self):
        import lightning.pytorch as pl

        outer = self

        class _Callback(pl.Callback):
            def _start(self, *args):
                self.total, self.n = 0.0, 0

            def _add(self, outputs):
                loss = outputs["loss"] if isinstance(outputs, dict) else outputs
                self.total += float(loss.detach())
                self.n += 1

            def _end(self, trainer, module):
                mean = self.total / max(self.n, 1)
                if self.n and np.isfinite(mean) and mean < outer.best:
                    outer.best, outer.best_epoch = mean, int(trainer.current_epoch)
                    outer.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

            def on_train_epoch_start(self, trainer, module):
                if outer.monitor == "train":
                    self._start()

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                if outer.monitor == "train":
                    self._add(outputs)

            def on_train_epoch_end(self, trainer, module):
                if outer.monitor == "train":
                    self._end(trainer, module)

            def on_validation_epoch_start(self, trainer, module):
                if outer.monitor == "val":
                    self._start()

            def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
                if outer.monitor == "val":
                    self._add(outputs)

            def on_validation_epoch_end(self, trainer, module):
                if outer.monitor == "val":
                    self._end(trainer, module)

        return _Callback()

    def restore(self, module) -> None:
        if self.state is not None:
            module.load_state_dict(self.state)


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="DeepAR+ forecast", unit="series", leave=False)
