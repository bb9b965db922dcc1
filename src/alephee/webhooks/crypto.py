"""Webhook signing secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under the hub's master key(s).

The sender needs each subscription's secret in clear to sign its deliveries (HMAC), so the secret cannot be
hashed like an API key. ``webhook_subscriptions.secret`` holds ``enc:v1:<Fernet token>`` instead, and the
sender decrypts it right before signing: a database dump or backup without the key reveals no secret.

Keys come from ``ALEPHEE_SECRET_KEY``: one or more Fernet keys separated by commas (or blanks). The first one
encrypts, every one decrypts, so a key is rotated by putting a new key first, running
``alephee webhook rekey``, then dropping the old key. When the variable is unset (the embedded default) a key
is generated once into ``ALEPHEE_SECRET_KEY_FILE`` (``./var/secret.key``, mode 0600) and reused by every
process that finds it there; a warning says that production should set the variable.

A stored value without the ``enc:`` prefix is a secret written in clear before encryption existed (or by an
older process during a rolling upgrade): it is used as it is, encrypted after its next successful delivery
and, all at once, by ``alephee webhook rekey``. Keys and secrets are never logged.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from alephee.config import Settings

log = logging.getLogger("alephee.webhooks")

ENCRYPTED_PREFIX = "enc:"
# Version 1: a Fernet token (MultiFernet of ALEPHEE_SECRET_KEY). Another scheme would get "enc:v2:".
PREFIX_V1 = "enc:v1:"
ENV_VARIABLE = "ALEPHEE_SECRET_KEY"
FILE_VARIABLE = "ALEPHEE_SECRET_KEY_FILE"
KEY_FILE_MODE = 0o600
GENERATE_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'

ERR_BAD_KEY = "{source}: key #{index} is not a Fernet key (32 url-safe base64-encoded bytes; generate one with {hint})"
ERR_NO_KEY = "{source} holds no key"
ERR_KEY_FILE = "cannot read or create the key file {path} ({reason}); set {env} or {file_env}"
ERR_DECRYPT = (
    "the webhook signing secret cannot be decrypted with the key(s) of {source}: it was encrypted with another "
    "key (configure that key, after the current one if it is being rotated out)"
)
ERR_FORMAT = "the stored webhook signing secret has an unknown format (expected {prefix}...)"


class WebhookSecretError(RuntimeError):
    """A webhook secret cannot be encrypted or decrypted; the message says why (never the secret or a key)."""


class SecretKeyError(WebhookSecretError):
    """The master key configuration is unusable (malformed key, unreadable or uncreatable key file)."""


class SecretDecryptError(WebhookSecretError):
    """A stored secret does not decrypt with any configured key (wrong or missing key), or is malformed."""


def new_key() -> str:
    """A fresh Fernet key (what ``ALEPHEE_SECRET_KEY`` takes)."""
    return Fernet.generate_key().decode()


def is_encrypted(stored: str) -> bool:
    """Whether a stored value is ciphertext (else it is a legacy secret kept in clear)."""
    return stored.startswith(ENCRYPTED_PREFIX)


class Keyring:
    """The configured keys: encrypts with the first, decrypts with any. ``source`` names where they came from
    (for error messages; it never contains a key)."""

    __slots__ = ("_current", "_every", "source")

    def __init__(self, keys: list[Fernet], source: str) -> None:
        if not keys:
            raise SecretKeyError(ERR_NO_KEY.format(source=source))
        self.source = source
        self._current = keys[0]
        self._every = MultiFernet(keys)

    def __repr__(self) -> str:
        return f"Keyring(source={self.source!r})"

    def encrypt(self, secret: str) -> str:
        """The stored form of ``secret``: ``enc:v1:`` + a Fernet token under the first key."""
        return PREFIX_V1 + self._current.encrypt(secret.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The secret in clear: ciphertext decrypted with any key; a legacy value in clear returned as it is.
        ``SecretDecryptError`` when no key fits (never an empty or wrong secret: nothing is signed with it)."""
        if not is_encrypted(stored):
            return stored
        token = self._token(stored)
        try:
            return self._every.decrypt(token).decode()
        except InvalidToken:
            raise SecretDecryptError(ERR_DECRYPT.format(source=self.source)) from None

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` is ciphertext under the first key (nothing for ``rekey`` to do)."""
        if not stored.startswith(PREFIX_V1):
            return False
        try:
            self._current.decrypt(self._token(stored))
        except InvalidToken:
            return False
        return True

    @staticmethod
    def _token(stored: str) -> bytes:
        if not stored.startswith(PREFIX_V1):
            raise SecretDecryptError(ERR_FORMAT.format(prefix=PREFIX_V1))
        return stored[len(PREFIX_V1) :].encode()


def _parse_keys(text: str, source: str) -> list[Fernet]:
    # Fernet keys are url-safe base64: commas, blanks and "#" never occur in one.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    keys: list[Fernet] = []
    for index, value in enumerate((v for v in re.split(r"[\s,]+", "\n".join(lines)) if v), start=1):
        try:
            keys.append(Fernet(value.encode()))
        except (ValueError, TypeError):
            raise SecretKeyError(ERR_BAD_KEY.format(source=source, index=index, hint=GENERATE_HINT)) from None
    return keys


# --- the key file (embedded default) -------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    # The new directory entry must survive a crash: rows encrypted with a key whose file vanished are lost.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) readable by its owner only, with ``data``, synced to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        os.fchmod(fd, KEY_FILE_MODE)  # os.open's mode is filtered by the umask; make it exact
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def create_key_file(path: Path) -> bool:
    """Write a fresh key to ``path`` unless a key file is already there; returns whether this call created it.

    The key is written to a private temporary file that is then hard-linked to ``path``: the link either
    appears complete or fails because the file exists, so of several processes starting together exactly one
    key wins and every process reads that one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (new_key() + "\n").encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    _write_private(temporary, data)
    try:
        os.link(temporary, path)
        created = True
    except FileExistsError:
        created = False
    except OSError:
        # A file system without hard links: exclusive creation of the file itself (readers retry while empty).
        try:
            _write_private(path, data)
            created = True
        except FileExistsError:
            created = False
    finally:
        temporary.unlink(missing_ok=True)
    if created:
        _fsync_dir(path.parent)
    return created


def _read_key_file(path: Path) -> str:
    # Only the no-hard-link fallback can show a file before its key is written: wait for the writer briefly.
    deadline = time.monotonic() + 2.0
    while True:
        text = path.read_text(encoding="ascii")
        if text.strip() or time.monotonic() >= deadline:
            return text
        time.sleep(0.02)


_lock = threading.Lock()
# Keyrings already built: by configured value, or by key file (with the file's identity, so a key file that
# is replaced, e.g. for a rotation, is read again).
_by_value: dict[str, Keyring] = {}
_by_file: dict[str, tuple[tuple[int, int, int, int], Keyring]] = {}
_warned_files: set[str] = set()


def _file_identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def _file_keyring(settings: Settings) -> Keyring:
    path = Path(settings.secret_key_file).expanduser()
    name = str(path.absolute())
    source = f"the key file {path} ({ENV_VARIABLE} is not set)"
    created = False
    try:
        try:
            info = path.stat()
        except FileNotFoundError:
            created = create_key_file(path)
            info = path.stat()
        identity = _file_identity(info)
        with _lock:
            cached = _by_file.get(name)
        if cached is not None and cached[0] == identity:
            return cached[1]
        text = _read_key_file(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SecretKeyError(
            ERR_KEY_FILE.format(path=path, reason=reason, env=ENV_VARIABLE, file_env=FILE_VARIABLE)
        ) from None
    ring = Keyring(_parse_keys(text, source), source)
    with _lock:
        _by_file[name] = (identity, ring)
        warn = name not in _warned_files
        _warned_files.add(name)
    if created:
        log.warning(
            "%s is not set: generated a new secret key in %s to encrypt webhook signing secrets. Keep that file "
            "(and back it up apart from the database); production should set %s.",
            ENV_VARIABLE,
            path,
            ENV_VARIABLE,
        )
    elif warn:
        log.warning(
            "%s is not set: webhook signing secrets are encrypted with the key in %s; production should set %s.",
            ENV_VARIABLE,
            path,
            ENV_VARIABLE,
        )
    if warn and stat.S_IMODE(info.st_mode) & 0o077:
        log.warning("the key file %s can be read by other users: chmod 600 it", path)
    return ring


def keyring(settings: Settings) -> Keyring:
    """The keys of ``settings``: ``secret_key`` when set, else the key file (generated on first use)."""
    configured = settings.secret_key.get_secret_value().strip() if settings.secret_key is not None else ""
    if not configured:
        return _file_keyring(settings)
    with _lock:
        ring = _by_value.get(configured)
    if ring is None:
        ring = Keyring(_parse_keys(configured, ENV_VARIABLE), ENV_VARIABLE)
        with _lock:
            _by_value[configured] = ring
    return ring


def encrypt_secret(settings: Settings, secret: str) -> str:
    """What ``webhook_subscriptions.secret`` stores for ``secret``."""
    return keyring(settings).encrypt(secret)


def decrypt_secret(settings: Settings, stored: str) -> str:
    """The signing secret of a stored value (``SecretDecryptError``/``SecretKeyError`` when it cannot be had)."""
    return keyring(settings).decrypt(stored)


def forget_keys() -> None:
    """Drop the keyrings built so far (tests; a process otherwise reads each key source once)."""
    with _lock:
        _by_value.clear()
        _by_file.clear()
        _warned_files.clear()


def describe(settings: Settings) -> dict[str, Any]:
    """Where the keys come from, for CLI output (never a key)."""
    ring = keyring(settings)
    return {"KeySource": ENV_VARIABLE if ring.source == ENV_VARIABLE else str(Path(settings.secret_key_file))}
