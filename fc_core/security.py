"""Keeping data and models safe: encryption at rest with a key the user holds, and artifact checks.

Encryption
----------
``predictor.save(path, key=...)``, ``AutoPredictor.save(path, key=...)``,
:func:`~fc_core.datasets.save_dataset` and ``Forecast.export(path, key=...)`` encrypt what they write
with **AES-256-GCM** (authenticated: a wrong key or a changed byte is detected, never
silently decoded). The key is 32 random bytes, handled as a 44-character URL-safe
base64 string from :func:`generate_key` (or derived from a password and a salt with
scrypt by :func:`key_from_password`; raw bytes are refused, so a 32-byte password
cannot pass for a key); fc_core never stores it. This is Amazon Forecast's
customer-managed-key promise on one machine: without the key the files are opaque.

* An encrypted *folder* (a predictor, a dataset snapshot) holds two files:
  ``fc_artifact.json`` (``{"fc_core_artifact": "encrypted", "format": 2, "kind": ...,
  "id": <random>, "cipher": "AES-256-GCM"}``, no secrets) and ``payload.fcenc``: the
  plain folder packed as a tar archive and encrypted as one message, with the whole
  manifest as associated data (a payload moved in from another artifact saved with the
  same key is refused). Artifacts of format 1 (kind only) are refused with a message
  saying to re-save them. It is written through
  :func:`fc_core.io.atomic_dir`: a crash or a wrong key never leaves a half-written
  artifact, and a failed save leaves the previous one in place.
* An encrypted *file* (an export) is the encrypted bytes of the plain file, written
  atomically.
* Encrypted bytes are ``b"FCENC1\\0\\0" + nonce (12 bytes) + ciphertext + tag``; the
  header and the artifact kind are authenticated too (a predictor payload cannot be
  passed off as a dataset).
* The plain artifact exists only in memory while it is packed or unpacked: a private
  folder (mode 0700) on ``/dev/shm`` (RAM), named with the process id; folders of
  processes that died (even by SIGKILL) are removed by the next save or load. Where
  there is no ``/dev/shm``, ``FC_CORE_PLAIN_DIR`` names a RAM-backed folder to use, or
  the system temp folder is used with a warning.

Artifact checks
---------------
Loaders never execute code from a file: configuration is JSON, arrays are ``npz``
read with ``allow_pickle=False``, torch weights use ``torch.load(weights_only=True)``,
LightGBM models its text format, tables Parquet; the estimator class named in an
artifact must be an fc_core :class:`~fc_core.algorithms.base.Estimator` subclass.
Anything else raises :class:`~fc_core.errors.ArtifactError`.

>>> key = generate_key()
>>> blob = encrypt_bytes(b"secret forecast", key, context="demo")
>>> decrypt_bytes(blob, key, context="demo")
b'secret forecast'
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .artifacts import ARTIFACT_FILE
from .errors import ArtifactError, ConfigError
from .io import atomic_dir, atomic_path, is_url

MAGIC = b"FCENC1\0\0"
CIPHER = "AES-256-GCM"
PAYLOAD_FILE = "payload.fcenc"
_NONCE = 12
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

__all__ = ["generate_key", "key_from_password", "refusal", "seal_payload", "encrypt_bytes", "decrypt_bytes", "is_encrypted", "save_encrypted", "open_artifact",
           "write_encrypted_frame", "read_frame", "safe_name", "CIPHER"]


# ------------------------------------------------------------------ keys
def refusal(load: Callable, *args, **kwargs) -> str | None:
    """The message of the :class:`ArtifactError` that ``load(*args, **kwargs)`` raises, or None
    when it loads: shows that a wrong key or a changed file is refused.

    >>> def bad(path): raise ArtifactError(f"{path}: wrong key")
    >>> refusal(bad, "p")
    'p: wrong key'
    >>> refusal(lambda: 1) is None
    True
    """
    try:
        load(*args, **kwargs)
    except ArtifactError as err:
        return str(err)
    return None


def generate_key() -> str:
    """A new random 256-bit key as URL-safe base64 text (keep it safe: without it nothing decrypts).

    >>> len(generate_key())
    44
    """
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def key_from_password(password: str, salt) -> str:
    """A key derived from a password with scrypt (n=2**15, r=8, p=1); keep the salt with the data.

    ``salt``: at least 16 bytes (or text), e.g. ``os.urandom(16).hex()`` made once and stored
    beside the encrypted files; the same password and salt give the same key.

    Raises
    ------
    ConfigError
        For an empty password or a salt shorter than 16 bytes.

    >>> k = key_from_password("correct horse battery staple", "0123456789abcdef")
    >>> k == key_from_password("correct horse battery staple", "0123456789abcdef"), len(k)
    (True, 44)
    """
    import hashlib

    pw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    sb = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
    if not pw:
        raise ConfigError("key_from_password: the password is empty.")
    if len(sb) < 16:
        raise ConfigError("key_from_password: the salt must be at least 16 bytes (e.g. os.urandom(16).hex(), "
                          "stored beside the encrypted files).")
    raw = hashlib.scrypt(pw, salt=sb, n=2 ** 15, r=8, p=1, maxmem=64 * 2 ** 20, dklen=32)
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _key_bytes(key) -> bytes:
    """The 32 raw key bytes of ``key`` (the base64 text of :func:`generate_key`, as str or bytes).

    Raises
    ------
    ConfigError
        For anything else: raw bytes are refused (a 32-byte password would pass for a key).
    """
    if isinstance(key, (bytes, bytearray)) and len(key) == 32:
        raise ConfigError("raw bytes are not accepted as a key (a 32-character password would pass for one); use "
                          "fc_core.security.generate_key(), or key_from_password(password, salt).")
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("ascii", errors="replace")
    if isinstance(key, str):
        try:
            raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) == 32:
            return raw
    raise ConfigError("the key must be one made by fc_core.security.generate_key(): 44 characters of URL-safe "
                      "base64 (32 bytes); a password is not a key (derive one with key_from_password).")


def _aesgcm(key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(_key_bytes(key))


def encrypt_bytes(data: bytes, key, context: str = "") -> bytes:
    """``data`` encrypted with AES-256-GCM; ``context`` (e.g. the artifact kind) is authenticated."""
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + _aesgcm(key).encrypt(nonce, bytes(data), MAGIC + context.encode())


def _manifest_context(manifest: dict) -> str:
    return "manifest:" + json.dumps(manifest, sort_keys=True, separators=(",", ":"))


def seal_payload(data: bytes, key, kind: str) -> tuple[dict, bytes]:
    """``(manifest, encrypted payload)`` of an encrypted folder artifact: a new manifest (kind, a random
    id) and ``data`` encrypted with that whole manifest as associated data."""
    import uuid

    manifest = {"fc_core_artifact": "encrypted", "format": 2, "kind": kind, "id": uuid.uuid4().hex,
                "cipher": CIPHER, "payload": PAYLOAD_FILE}
    return manifest, encrypt_bytes(data, key, context=_manifest_context(manifest))


def decrypt_bytes(blob: bytes, key, context: str = "", source: str = "the data") -> bytes:
    """Inverse of :func:`encrypt_bytes`.

    Raises
    ------
    ArtifactError
        If ``blob`` was not encrypted by fc_core, the key is wrong or the bytes were changed.
    """
    from cryptography.exceptions import InvalidTag

    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _NONCE + 16:
        raise ArtifactError(f"{source} is not encrypted by fc_core (no FCENC1 header); load it without key=.")
    nonce = blob[len(MAGIC):len(MAGIC) + _NONCE]
    try:
        return _aesgcm(key).decrypt(nonce, blob[len(MAGIC) + _NONCE:], MAGIC + context.encode())
    except InvalidTag:
        what = ("its payload belongs to another artifact" if context.startswith("manifest:")
                else f"it is of another kind than {context!r}")
        raise ArtifactError(f"cannot decrypt {source}: wrong key, or the file was changed, or {what}. Use the key "
                            "it was saved with.") from None


# ------------------------------------------------------------------ folders
def is_encrypted(path) -> bool:
    """Whether folder ``path`` holds an encrypted fc_core artifact."""
    f = Path(path) / ARTIFACT_FILE
    if not f.is_file():
        return False
    try:
        doc = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("fc_core_artifact") == "encrypted"


_PLAIN_PREFIX = "fc_core_plain_"


def _plain_base() -> Path:
    env = os.environ.get("FC_CORE_PLAIN_DIR")
    if env:
        return Path(env)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    import warnings

    warnings.warn("no /dev/shm: the plain artifact is staged in the system temp folder while it is encrypted or "
                  "decrypted (set FC_CORE_PLAIN_DIR to a RAM-backed folder to keep it off disk)", stacklevel=4)
    return Path(tempfile.gettempdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(base: Path) -> None:
    """Remove staging folders of processes that died (a SIGKILL cannot run clean-up code)."""
    try:
        entries = list(base.glob(f"{_PLAIN_PREFIX}*"))
    except OSError:
        return
    for d in entries:
        parts = d.name[len(_PLAIN_PREFIX):].split("_", 1)
        if parts[0].isdigit() and not _alive(int(parts[0])) and d.is_dir() and d.stat().st_uid == os.getuid():
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _plain_dir() -> Iterator[Path]:
    """A private (0700) staging folder in memory for a plain artifact, deleted when the block ends."""
    base = _plain_base()
    _sweep(base)
    d = tempfile.mkdtemp(prefix=f"{_PLAIN_PREFIX}{os.getpid()}_", dir=base)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _pack(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(folder.rglob("*")):
            if p.is_symlink():
                raise ArtifactError(f"refusing to pack the link {p}; artifacts hold plain files only.")
            tar.add(p, arcname=str(p.relative_to(folder)), recursive=False)
    return buf.getvalue()


def _unpack(data: bytes, dest: Path, source: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in parts:
                raise ArtifactError(f"{source} holds an unexpected entry {m.name!r}; refusing to unpack it.")
        tar.extractall(dest, filter="data")


def save_encrypted(write: Callable[[Path], object], path, key, kind: str) -> Path:
    """Write an artifact with ``write(folder)`` into a private temporary folder, pack and encrypt
    it, and put the encrypted folder at ``path`` atomically.

    Raises
    ------
    ConfigError
        For a malformed key (checked before anything is written).
    """
    _key_bytes(key)
    if is_url(path):
        raise ConfigError(f"encrypted artifacts are saved to local folders, not {path}; save locally, then copy.")
    with _plain_dir() as d:
        plain = d / "artifact"
        write(plain)
        manifest, blob = seal_payload(_pack(plain), key, kind)
    with atomic_dir(path) as tmp:
        (tmp / PAYLOAD_FILE).write_bytes(blob)
        (tmp / ARTIFACT_FILE).write_text(json.dumps(manifest, indent=2))
    return Path(path)


@contextlib.contextmanager
def open_artifact(path, key=None, kind: str = "predictor") -> Iterator[Path]:
    """The plain folder of the artifact at ``path``: itself, or (encrypted) a private temporary
    copy decrypted with ``key``, deleted when the block ends.

    Raises
    ------
    ArtifactError
        If the folder is encrypted and no key is given, a key is given for a folder that is not
        encrypted, the key is wrong or the payload was changed.
    """
    folder = Path(path)
    enc = is_encrypted(folder)
    if not enc:
        if key is not None and (folder / ARTIFACT_FILE).is_file():
            raise ArtifactError(f"{folder} is not encrypted, but a key was given; load it without key= (or check "
                                "that nobody replaced your encrypted artifact).")
        yield folder
        return
    if key is None:
        raise ArtifactError(f"{folder} is encrypted ({CIPHER}); load it with key=... (the key it was saved with).")
    doc = json.loads((folder / ARTIFACT_FILE).read_text())
    if doc.get("kind") != kind:
        raise ArtifactError(f"{folder} holds an encrypted {doc.get('kind')!r} artifact, not a {kind!r}.")
    if doc.get("format") != 2:
        raise ArtifactError(f"{folder} was encrypted by an older fc_core (format {doc.get('format', 1)}, whose payload "
                            "is not bound to its manifest); load it with the version that saved it and save it again "
                            "with this one (key=... as before).")
    blob_path = folder / PAYLOAD_FILE
    if not blob_path.is_file():
        raise ArtifactError(f"{folder} lacks {PAYLOAD_FILE}; the encrypted artifact is incomplete.")
    data = decrypt_bytes(blob_path.read_bytes(), key, context=_manifest_context(doc), source=str(folder))
    with _plain_dir() as d:
        plain = d / "artifact"
        plain.mkdir()
        _unpack(data, plain, str(folder))
        yield plain


def safe_name(name: str, where: str) -> str:
    """``name`` if it is a plain file name (letters, digits, ``_ . -``), for names read from artifacts.

    Raises
    ------
    ArtifactError
        For a path such as ``../x``.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise ArtifactError(f"{where} names {name!r}, which is not a plain file name; the artifact was not "
                            "written by fc_core or was changed.")
    return name


# ------------------------------------------------------------------ files (exports)
def write_encrypted_frame(df, path, key, fmt: str | None = None) -> str:
    """Write ``df`` as CSV or Parquet (by ``fmt`` or suffix) encrypted with ``key``, atomically.

    Raises
    ------
    ConfigError
        For a malformed key or an unknown format.
    """
    _key_bytes(key)
    fmt = (fmt or ("parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv")).lower()
    buf = io.BytesIO()
    if fmt == "parquet":
        df.to_parquet(buf, index=False)
    elif fmt == "csv":
        buf.write(df.to_csv(index=False).encode("utf-8"))
    else:
        raise ConfigError(f"unknown export format {fmt!r}: use 'csv' or 'parquet'.")
    blob = encrypt_bytes(buf.getvalue(), key, context=f"frame:{fmt}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)
    return str(path)


def read_frame(path, key=None, fmt: str | None = None):
    """Read a CSV or Parquet export, decrypting it when ``key`` is given.

    Raises
    ------
    ArtifactError
        For a wrong key, or a file that is (not) encrypted against what ``key`` says.
    """
    import pandas as pd

    fmt = (fmt or ("parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv")).lower()
    data = Path(path).read_bytes()
    if key is None:
        if data.startswith(MAGIC):
            raise ArtifactError(f"{path} is encrypted; read it with key=....")
    else:
        data = decrypt_bytes(data, key, context=f"frame:{fmt}", source=str(path))
    return pd.read_parquet(io.BytesIO(data)) if fmt == "parquet" else pd.read_csv(io.BytesIO(data))


def __getattr__(name):
    # save_dataset / load_dataset moved beside DatasetGroup (fc_core.datasets); the old names stay importable
    if name in ("save_dataset", "load_dataset"):
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
