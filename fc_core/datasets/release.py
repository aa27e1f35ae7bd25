"""Letting a DatasetGroup's long frames go once its series are packed (issue 17).

A DatasetGroup holds its data three times over: the canonical long frames (``target``, ``related``),
the column blocks they are built from (keys, timestamps and values per row), and the packed
:class:`~fc_core.panel.Panel` that training and forecasting read. On 10,000 daily items x 2 years
with a price series (``bench/scale_bench.py``'s ``retail_daily``) the frames and blocks take about
410 MB and the panel 180 MB. :meth:`DatasetGroup.release_frames` keeps the panel and lets the rest go:
training, forecasting, backtests, explanations and plots of an AutoPredictor read only the panel;
what needs the rows themselves (``target``, ``related``, ``summary()``, ``append``, ``fill``,
``aggregate``, ``copy``, saving the group, :func:`fc_core.whatif.what_if`, the data views) raises a
ConfigError saying the frames were released.
"""
from __future__ import annotations

from ..errors import ConfigError

#: What :meth:`DatasetGroup.release_frames` lets go (the long frames and the blocks behind them).
RELEASED = ("target", "related", "_tblock", "_rblock", "_raw_related", "_present", "_raw_nan", "_estimated",
            "_fill_region")


class _Released:
    """Stands for a frame or block let go by :meth:`DatasetGroup.release_frames`: using it raises a
    ConfigError that says so (dunder look-ups, as ``copy`` and ``pickle`` make, an AttributeError)."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _fail(self, *args, **kwargs):
        raise ConfigError(f"this DatasetGroup's {self._name.lstrip('_')} was released by release_frames() to save "
                          "memory; only its packed series (to_panel()) are kept. Build the group again to use "
                          "its rows (summary, append, what-if, the data views, saving it).")

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._fail()

    __getitem__ = __len__ = __iter__ = __contains__ = __setattr__ = _fail

    def __repr__(self) -> str:
        return f"<released {self._name.lstrip('_')}>"


class _ReleaseMixin:
    """:meth:`release_frames` of a DatasetGroup."""

    @property
    def frames_released(self) -> bool:
        """Whether :meth:`release_frames` let this group's long frames go."""
        return isinstance(self.__dict__.get("target"), _Released)

    def release_frames(self):
        """Pack the series (:meth:`to_panel`) and let the long frames and the blocks behind them go, to
        save memory on large data; returns the panel.

        An AutoPredictor trains, forecasts, backtests, explains and plots from the group as before (it
        reads only the panel), with the same numbers. ``target``, ``related``, ``summary()``,
        ``append``, ``fill``, ``aggregate``, ``copy``, saving the group and what-if analyses need the
        rows and raise a ConfigError afterwards: build the group again for them.
        """
        panel = self.to_panel()
        for name in RELEASED:
            if getattr(self, name, None) is not None:
                setattr(self, name, _Released(name))
        return panel
