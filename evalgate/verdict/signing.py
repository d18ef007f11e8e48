"""Signed verdicts: Ed25519 over the canonical JSON of verdict.json without its signature.

    generate(out_dir) -> (private_path, public_path)    PEM files; the private one mode 0600
    sign(doc, private_key_path) -> doc + {"signature": {"algorithm", "key_id", "value"}}
    verify(doc, trusted_public_keys) -> key_id          or SignatureRejected

The signature covers every field but ``signature`` itself, as :func:`canonical` writes them
(sorted keys, no whitespace, UTF-8): a verdict read back from its indented file is verified by
re-canonicalising the parsed document, so the layout of the file does not matter, its content
does. A key's id is ``ed25519:`` and the first 16 hex digits of the sha256 of its raw public
bytes; the promotion entry of the registry records it.

Key files that are missing, unreadable or not Ed25519 keys are a :class:`SigningError` naming
the file; a verdict that is unsigned, signed by a key not trusted, or whose signature does not
match is a :class:`SignatureRejected`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._io import write_atomic
from ..errors import SignatureRejected, SigningError

ALGORITHM = "ed25519"
SIGNATURE = "signature"
PRIVATE_NAME = "evalgate-signing.pem"
PUBLIC_NAME = "evalgate-signing.pub.pem"
DEFAULT_KEY_DIR = Path(".evalgate") / "keys"

PublicKeyLike = Ed25519PublicKey | Path | str | bytes

# messages tests import
UNSIGNED = "the verdict is not signed"
UNKNOWN_KEY = "signed by a key that is not trusted"
BAD_SIGNATURE = "its signature does not match its content"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{ALGORITHM}:{hashlib.sha256(raw).hexdigest()[:16]}"


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def generate(out_dir: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new key pair into ``out_dir``: (private key path, public key path)."""
    out_dir = Path(out_dir)
    private_path, public_path = out_dir / PRIVATE_NAME, out_dir / PUBLIC_NAME
    existing = [p for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise SigningError(f"{existing[0]}: a key already exists; keep it, or pass --force to "
                           "replace it (verdicts signed with the old key then no longer verify "
                           "against the new one)")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(private_path, 0o600)  # an existing file keeps its mode through O_TRUNC
        write_atomic(public_path, public_pem(key.public_key()))
    except OSError as exc:
        raise SigningError(f"{out_dir}: cannot write the key pair there: "
                           f"{exc.strerror or exc}") from None
    return private_path, public_path


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    raw = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not a usable PEM private key ({exc}); write one with "
                           "`evalgate keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__}, not an Ed25519 key; write one "
                           "with `evalgate keygen`")
    return key


def load_public_key(source: PublicKeyLike) -> Ed25519PublicKey:
    """A public key given as an object, a PEM file's path, or PEM text."""
    if isinstance(source, Ed25519PublicKey):
        return source
    if isinstance(source, Path):
        raw, where = _read(source, "public key"), str(source)
    elif isinstance(source, bytes) or "-----BEGIN" in source:
        raw = source if isinstance(source, bytes) else source.encode()
        where = "public key"
    else:
        raw, where = _read(Path(source), "public key"), source
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{where}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: ``doc`` without its signature, as canonical JSON."""
    body = {k: v for k, v in doc.items() if k != SIGNATURE}
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SigningError(f"the document cannot be written as canonical JSON: {exc}") from None


def sign(doc: Mapping[str, Any], private_key_path: Path) -> dict[str, Any]:
    """A copy of ``doc`` with a ``signature`` over the rest of it."""
    key = load_private_key(private_key_path)
    value = key.sign(canonical(doc))
    return {**{k: v for k, v in doc.items() if k != SIGNATURE},
            SIGNATURE: {"algorithm": ALGORITHM, "key_id": key_id(key.public_key()),
                        "value": base64.b64encode(value).decode("ascii")}}


def verify(doc: Mapping[str, Any], trusted_public_keys: Sequence[PublicKeyLike]) -> str:
    """The id of the trusted key that signed ``doc``; :class:`SignatureRejected` otherwise."""
    trusted = {key_id(k): k for k in map(load_public_key, trusted_public_keys)}
    ids = ", ".join(sorted(trusted)) or "none"
    sig = doc.get(SIGNATURE)
    if sig is None:
        raise SignatureRejected(f"{UNSIGNED}, but a signature by one of {ids} is required; "
                                "sign it: run the gate with EVALGATE_SIGNING_KEY set (or "
                                "[tool.evalgate] signing_key)")
    if not isinstance(sig, dict) or not all(isinstance(sig.get(k), str)
                                            for k in ("algorithm", "key_id", "value")):
        raise SignatureRejected("signature: expected {\"algorithm\", \"key_id\", \"value\"} "
                                "strings")
    if sig["algorithm"] != ALGORITHM:
        raise SignatureRejected(f"signature.algorithm is {sig['algorithm']!r}; only "
                                f"{ALGORITHM!r} is accepted")
    key = trusted.get(sig["key_id"])
    if key is None:
        raise SignatureRejected(f"{UNKNOWN_KEY}: signature.key_id is {sig['key_id']!r}, the "
                                f"trusted keys are {ids}")
    try:
        value = base64.b64decode(sig["value"], validate=True)
        key.verify(value, canonical(doc))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureRejected(f"{BAD_SIGNATURE} (key {sig['key_id']}): the verdict was "
                                "changed after it was signed, or the signature was "
                                "forged") from None
    return str(sig["key_id"])
