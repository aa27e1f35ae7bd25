"""Where each row came from (file and line, or frame row and index), so that every error names it."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .files import _open_binary, _open_text


@dataclass
class SourceInfo:
    """Where a block of rows came from, to name it in messages."""

    name: str
    kind: str  # "csv", "parquet" or "frame"
    header: bool = False
    index: pd.Index | None = None  # a DataFrame's index labels
    zoned: bool | None = None  # its timestamps carried a time zone (None: no timestamps)
    _simple: bool | None = None  # CSV without quotes or blank lines: line = row + 1 + header


class Provenance:
    """Maps a row position (in reading order) to its file and line.

    >>> p = Provenance([SourceInfo("a.csv", "csv", header=True), SourceInfo("b.csv", "csv")], [2, 3])
    >>> p.source_of(3)[0].name, p.source_of(3)[1]
    ('b.csv', 1)
    """

    def __init__(self, sources: Sequence[SourceInfo], counts: Sequence[int]):
        self.sources = list(sources)
        self.offsets = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])

    def source_of(self, pos: int) -> tuple[SourceInfo, int]:
        k = int(np.searchsorted(self.offsets, pos, side="right") - 1)
        k = min(max(k, 0), len(self.sources) - 1)
        return self.sources[k], int(pos - self.offsets[k])

    def locate(self, pos: int) -> str:
        """``"file 'x.csv', line 7"`` or ``"DataFrame row 3 (index 2)"`` for row ``pos``."""
        src, local = self.source_of(int(pos))
        return describe_row(src, local)

    def line(self, pos: int) -> int | None:
        """The 1-based line of row ``pos`` in its CSV file (None for DataFrame and Parquet rows)."""
        src, local = self.source_of(int(pos))
        return _csv_line(src, local) if src.kind not in ("frame", "parquet") else None

    def names(self) -> str:
        return ", ".join(f"'{s.name}'" for s in self.sources[:3]) + (" ..." if len(self.sources) > 3 else "")

    @staticmethod
    def concat(parts: Sequence["Provenance"]) -> "Provenance":
        sources, counts = [], []
        for p in parts:
            sources += p.sources
            counts += np.diff(p.offsets).tolist()
        return Provenance(sources, counts)


def describe_row(src: SourceInfo, local: int) -> str:
    if src.kind == "frame":
        label = src.index[local] if src.index is not None and local < len(src.index) else local
        return f"{src.name} row {local + 1} (index {label!r})"
    if src.kind == "parquet":
        return f"file '{src.name}', row {local + 1}"
    return f"file '{src.name}', line {_csv_line(src, local)}"


def _csv_line(src: SourceInfo, local: int) -> int:
    """1-based line of data row ``local`` (0-based), counting the header line, blank lines and
    line breaks inside quoted fields (the exact scan only runs when the file has such things)."""
    if src._simple is None:
        src._simple = _is_simple_csv(src.name)
    if src._simple:
        return local + 1 + int(src.header)
    with _open_text(src.name) as fh:
        reader = csv.reader(fh)
        row = -1 - int(src.header)
        start = 1
        for rec in reader:
            if not rec:  # blank line: pyarrow skips it too
                start = reader.line_num + 1
                continue
            row += 1
            if row == local:
                return start
            start = reader.line_num + 1
    return local + 1 + int(src.header)


def _is_simple_csv(path: str) -> bool:
    try:
        with _open_binary(path) as fh:
            prev = b"\n"
            while True:
                chunk = fh.read(1 << 23)
                if not chunk:
                    return True
                if b'"' in chunk:
                    return False
                buf = prev + chunk
                if b"\n\n" in buf or b"\n\r\n" in buf or b"\r\r" in buf:
                    return False
                prev = chunk[-2:]
    except OSError:
        return True
