"""Ed25519 signatures of exported bundles (``manifest.sig`` next to ``manifest.json``).

``manifest.json`` holds the SHA-256 of every other file of the bundle, so a signature of its exact
bytes covers the whole bundle: check the signature here, then the hashes with
:func:`robot_rl.deploy.manifest.check_hashes`.

``manifest.sig`` is a small JSON object::

    {"algorithm": "ed25519", "key_id": "<16 hex chars>", "signature": "<base64, 64 bytes>"}

where ``key_id`` is the first 16 hex characters of the SHA-256 of the raw 32-byte public key.

All cryptography is done by the ``cryptography`` package. This module runs on the robot side too,
so it imports only the standard library and ``cryptography`` at module level.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from robot_rl.deploy.manifest import MANIFEST
from robot_rl.errors import InputError, MissingInputError

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"
KEY_ID_CHARS = 16
SIGNATURE_BYTES = 64
#: ``manifest.sig`` files larger than this are rejected unread (a real one is about 150 bytes).
MAX_SIG_FILE_BYTES = 64 * 1024

_PRIVATE_MODE = 0o600


# ---------------------------------------------------------------------------------- keys
def public_key_path(private_key: Path) -> Path:
    """Where :func:`generate_keypair` writes the public key of ``private_key``: ``KEY.pub``."""
    private_key = Path(private_key)
    return private_key.with_name(private_key.name + ".pub")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short id of a public key: first 16 hex chars of the SHA-256 of its raw 32 bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_CHARS]


def generate_keypair(out: Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Create an Ed25519 key pair: private key at ``out`` and public key at ``out.pub``.

    The private key is written as unencrypted PEM PKCS8 with file mode 0600; the public key as
    PEM SubjectPublicKeyInfo. Missing parent directories are created.

    Args:
        out: path of the private key file.
        overwrite: replace existing key files instead of refusing.

    Returns:
        ``(private key path, public key path)``.

    Raises:
        ValueError: a key file already exists and ``overwrite`` is false.
    """
    out = Path(out)
    pub = public_key_path(out)
    if not overwrite:
        for path in (out, pub):
            if path.exists():
                raise InputError(f"{path} already exists; refusing to overwrite a key (use --force)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_private(out, private_pem, overwrite)
    pub.write_bytes(public_pem)
    return out, pub


def _write_private(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (never world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, _PRIVATE_MODE)
    except FileExistsError:
        raise InputError(f"{path} already exists; refusing to overwrite a key (use --force)") from None
    with os.fdopen(fd, "wb") as fh:
        if hasattr(os, "fchmod"):  # an overwritten file keeps its old mode otherwise
            os.fchmod(fh.fileno(), _PRIVATE_MODE)
        fh.write(data)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load an unencrypted PEM Ed25519 private key (as written by :func:`generate_keypair`).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an unencrypted PEM Ed25519 private key.
    """
    path = Path(path)
    data = path.read_bytes()
    accepted = "an unencrypted PEM Ed25519 private key (robot-rl keygen --out KEY)"
    if b"PRIVATE KEY" not in data and b"PUBLIC KEY" in data:
        raise InputError(f"{path} is a public key; signing needs {accepted}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(f"{path} is an encrypted private key; signing needs {accepted}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{path} is not a readable PEM private key ({exc}); expected {accepted}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} holds {_key_kind(key)} private key, not Ed25519; expected {accepted}")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load a PEM (SubjectPublicKeyInfo) Ed25519 public key, as written to ``KEY.pub``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a PEM Ed25519 public key.
    """
    path = Path(path)
    data = path.read_bytes()
    accepted = "a PEM Ed25519 public key (the KEY.pub written by robot-rl keygen)"
    if b"PRIVATE KEY" in data:
        raise InputError(f"{path} is a private key; expected {accepted} (never copy the private key)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{path} is not a readable PEM public key ({exc}); expected {accepted}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path} holds {_key_kind(key)} public key, not Ed25519; expected {accepted}")
    return key


def _key_kind(key: object) -> str:
    """Human name of a key's type with its article, e.g. ``an RSA`` for ``RSAPrivateKey``."""
    name = type(key).__name__.lstrip("_")
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    name = {"EC": "EC (elliptic curve)", "": "another kind of"}.get(name, name)
    return ("an " if name[:1] in "AEFHILMNORSX" else "a ") + name


# ------------------------------------------------------------------------------- signing
def sign_bundle(bundle: Path, private_key: Path) -> Path:
    """Sign the exact bytes of ``bundle/manifest.json`` and write ``bundle/manifest.sig``.

    Call after the manifest is final: any later change to it invalidates the signature.

    Args:
        bundle: bundle directory holding ``manifest.json``.
        private_key: PEM Ed25519 private key file (``robot-rl keygen``).

    Returns:
        Path of the ``manifest.sig`` written.

    Raises:
        FileNotFoundError: no manifest in ``bundle`` or no key file.
        ValueError: ``private_key`` is not an unencrypted PEM Ed25519 private key.
    """
    bundle = Path(bundle)
    manifest = bundle / MANIFEST
    if not manifest.is_file():
        raise MissingInputError(f"{manifest} not found: {bundle} is not an exported bundle")
    key = load_private_key(private_key)
    signature = key.sign(manifest.read_bytes())
    record = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    path = bundle / SIGNATURE
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


# -------------------------------------------------------------------------- verification
def check_signature(bundle: Path, trusted_keys: Sequence[Path | Ed25519PublicKey]) -> list[str]:
    """Problems with the signature of a bundle (empty = validly signed by a trusted key).

    Never raises on a missing, malformed or hostile ``manifest.sig``: every such case is returned
    as a problem.

    Args:
        bundle: bundle directory holding ``manifest.json`` and ``manifest.sig``.
        trusted_keys: public keys, as loaded keys or paths of PEM files (``KEY.pub``).

    Returns:
        Problem descriptions, one per line of a report.

    Raises:
        FileNotFoundError: a trusted key path does not exist.
        ValueError: a trusted key file is not a PEM Ed25519 public key.
    """
    bundle = Path(bundle)
    trusted = _trusted_by_id(trusted_keys)
    if not trusted:
        return ["no trusted public keys given: pass the KEY.pub of the signer (--trust KEY.pub)"]
    record, problems = _read_signature(bundle)
    if record is None:
        return problems
    sig_id, signature = record
    if sig_id not in trusted:
        ids = ", ".join(sorted(trusted))
        shown = _short(sig_id)
        return [f"{SIGNATURE}: signed by key id {shown}, which is not trusted (trusted key ids: {ids})"]
    try:
        manifest = (bundle / MANIFEST).read_bytes()
    except OSError as exc:
        return [f"{MANIFEST}: cannot be read ({exc.strerror or exc}); nothing to check the signature of"]
    try:
        trusted[sig_id].verify(signature, manifest)
    except InvalidSignature:
        return [
            f"{SIGNATURE}: bad signature for key id {sig_id}: {MANIFEST} was modified after signing "
            "(or the signature is corrupted)"
        ]
    return []


def _trusted_by_id(trusted_keys: Sequence[Path | Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """``{key id: public key}`` of the trusted keys, loading the ones given as paths."""
    keys = [k if isinstance(k, Ed25519PublicKey) else load_public_key(Path(k)) for k in trusted_keys]
    return {key_id(k): k for k in keys}


def _read_signature(bundle: Path) -> tuple[tuple[str, bytes] | None, list[str]]:
    """Parse ``manifest.sig``: ``((key id, signature bytes), [])`` or ``(None, [problem])``."""
    path = bundle / SIGNATURE
    if not path.exists():
        return None, [f"unsigned bundle: no {SIGNATURE} in {bundle} (sign with robot-rl export --sign KEY)"]
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SIG_FILE_BYTES + 1)
    except OSError as exc:
        return None, [f"{SIGNATURE}: cannot be read ({exc.strerror or exc})"]
    if len(data) > MAX_SIG_FILE_BYTES:
        return None, [f"{SIGNATURE}: larger than {MAX_SIG_FILE_BYTES} bytes; not a signature file"]
    try:
        record: Any = json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, [f"{SIGNATURE}: not valid JSON; expected {_SIG_FORMAT}"]
    return _parse_record(record)


_SIG_FORMAT = '{"algorithm": "ed25519", "key_id": "<hex>", "signature": "<base64>"}'


def _parse_record(record: Any) -> tuple[tuple[str, bytes] | None, list[str]]:
    """Validate the decoded JSON of ``manifest.sig`` (see :func:`_read_signature`)."""
    if not isinstance(record, dict):
        return None, [f"{SIGNATURE}: not a JSON object; expected {_SIG_FORMAT}"]
    fields = ("algorithm", "key_id", "signature")
    bad = [f for f in fields if not isinstance(record.get(f), str)]
    if bad:
        return None, [f"{SIGNATURE}: missing or non-string fields {bad}; expected {_SIG_FORMAT}"]
    if record["algorithm"] != ALGORITHM:
        algo = _short(record["algorithm"])
        return None, [f"{SIGNATURE}: algorithm {algo} is not supported; only {ALGORITHM!r} is accepted"]
    try:
        signature = base64.b64decode(record["signature"], validate=True)
    except (binascii.Error, ValueError):
        return None, [f"{SIGNATURE}: signature is not valid base64"]
    if len(signature) != SIGNATURE_BYTES:
        size = len(signature)
        return None, [f"{SIGNATURE}: signature is {size} bytes; an Ed25519 signature is {SIGNATURE_BYTES}"]
    return (record["key_id"], signature), []


def _short(value: str, limit: int = 40) -> str:
    """An untrusted string for messages: as is when plain hex, else its ``repr`` cut to ``limit``."""
    if 0 < len(value) <= limit and all(c in "0123456789abcdef" for c in value):
        return value
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
