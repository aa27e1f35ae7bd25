"""Where the data comes from: local paths, folders, globs and fsspec URLs (``s3://``, ``memory://``),
compressed files, and the check that a text file is UTF-8."""
from __future__ import annotations

import csv
import glob as _glob
import io
import os

from ..errors import DataError
from ..io import local_path
from ..io import is_url as _is_url  # the one URL check (fsspec URL, not a local path or file://)


_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def _strip_file(path: str) -> str:
    return local_path(path)


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def _open_binary(path: str, decompress: bool = True):
    """A binary file object; compressed files (by suffix) come decompressed."""
    if _is_url(path) or (decompress and path.lower().endswith(_COMPRESSED)):
        import fsspec

        return fsspec.open(path, "rb", compression="infer" if decompress else None).open()
    return open(_strip_file(path), "rb")


def _open_text(path: str):
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def expand_paths(source) -> list[str]:
    """The files named by ``source``: a file, a folder (its files, sorted), a glob or a URL.

    Hidden files and names starting with ``_`` (``_SUCCESS``) in folders are skipped.

    Raises
    ------
    DataError
        If nothing matches.
    """
    if isinstance(source, (list, tuple)):
        out = []
        for s in source:
            out += expand_paths(s)
        return out
    path = os.fspath(source) if not isinstance(source, str) else source
    if _is_url(path):
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(path)
        proto = path.split("://", 1)[0]
        files = []
        for p in paths:
            if fs.isdir(p):
                files += sorted(f for f in fs.find(p) if not os.path.basename(f).startswith((".", "_")))
            elif fs.exists(p):
                files.append(p)
        files = [f if "://" in f else f"{proto}://{f.lstrip('/')}" if proto != "memory" else f"memory://{f}"
                 for f in files]
        if not files:
            raise DataError(f"no files found at '{path}'; check the URL (and the glob pattern, if any).")
        return files
    path = _strip_file(path)
    if os.path.isdir(path):
        files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(path) for f in fs
                       if not f.startswith((".", "_")))
        if not files:
            raise DataError(f"folder '{path}' holds no data files; put the CSV or Parquet files there.")
        return files
    if any(ch in path for ch in "*?["):
        files = sorted(_glob.glob(path, recursive=True))
        if not files:
            raise DataError(f"no files match '{path}'; check the pattern.")
        return files
    if not os.path.exists(path):
        raise DataError(f"file '{path}' does not exist; check the path.")
    return [path]


def _is_parquet(path: str) -> bool:
    if path.lower().endswith(_PARQUET_SUFFIXES):
        return True
    try:
        with _open_binary(path, decompress=False) as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _first_row(path: str) -> list[str] | None:
    """The first non-blank CSV record of ``path`` (BOM removed), or None for an empty file.

    Raises
    ------
    DataError
        For a file in UTF-16 or another encoding than UTF-8, or a broken compressed file.
    """
    check_encoding(path)
    with _open_text(path) as fh:
        for rec in csv.reader(fh):
            if rec and any(x.strip() for x in rec):
                return [x.strip() for x in rec]
    return None


def _read_head(path: str, n: int = 1 << 20) -> bytes:
    try:
        with _open_binary(path) as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        if path.lower().endswith(_COMPRESSED):
            raise DataError(f"file '{path}' cannot be decompressed ({exc}); the compressed file is truncated or "
                            "damaged: copy or download it again.") from None
        raise


def check_encoding(path: str) -> None:
    """Refuse, naming line and column, a CSV that is not UTF-8 (a UTF-8 BOM is fine).

    Raises
    ------
    DataError
    """
    head = _read_head(path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 4 and head[1:4:2] == b"\x00\x00"):
        raise DataError(f"file '{path}' is UTF-16 encoded; save it as UTF-8 (in Excel: 'CSV UTF-8'; or "
                        "iconv -f UTF-16 -t UTF-8), as Amazon Forecast expects.")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4 and exc.reason == "unexpected end of data":
            return  # a character cut by the 1 MiB read
        _raise_not_utf8(path, head, exc.start)


def _raise_bad_utf8_anywhere(path: str) -> None:
    with _open_binary(path) as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _raise_not_utf8(path, data, exc.start)


def _raise_not_utf8(path: str, data: bytes, pos: int) -> None:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    byte = data[pos]
    guess = data[max(0, pos - 20):pos + 20].decode("latin-1").splitlines()
    raise DataError(f"file '{path}', line {line}, character {col}: byte 0x{byte:02x} is not UTF-8 (the file looks "
                    f"Latin-1 or Windows-1252 encoded: ...{guess[-1] if guess else ''}...); save it as UTF-8 "
                    "(iconv -f latin1 -t utf-8), as Amazon Forecast expects.")
