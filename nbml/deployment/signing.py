"""Signed packages: an HMAC-SHA256 over ``manifest.json`` with a secret key.

The manifest's SHA-256 hashes catch accidents (a truncated copy, an edited file) but not an
attacker, who can change a file and recompute its hash. A signature can only be made with the
key: a package whose files or manifest changed after signing, or that was signed with another
key (or not at all), is refused whenever a key is set (``key=`` or ``NBML_SIGNING_KEY``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os

from nbml.deployment.trust import UntrustedPackageError
from nbml.errors import NbmlError

ENV = "NBML_SIGNING_KEY"
SIGNATURE_FILE = "signature.json"
FORMAT = "nbml-signature/1"
ALGORITHM = "HMAC-SHA256"
MIN_KEY_BYTES = 16


def resolve_key(key=None) -> bytes | None:
    """The key as bytes: ``key`` if given, else ``$NBML_SIGNING_KEY``, else None (unsigned)."""
    if key is None:
        key = os.environ.get(ENV) or None
        if key is None:
            return None
        where = f"${ENV}"
    else:
        where = "key"
    if isinstance(key, str):
        key = key.encode("utf-8")
    elif not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be a string or bytes (a secret); got {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise NbmlError(f"{where} is too short to sign with ({len(key)} bytes; at least {MIN_KEY_BYTES}): make one "
                        f"with python -c \"import secrets; print(secrets.token_hex(32))\"")
    return bytes(key)


def signature(manifest: bytes, key: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def signature_file(manifest: bytes, key: bytes) -> bytes:
    """The content of ``signature.json`` for the manifest's exact bytes."""
    return json.dumps({"format": FORMAT, "algorithm": ALGORITHM, "hmac": signature(manifest, key)},
                      indent=1).encode()


def check(manifest: bytes, signed: bytes | None, key: bytes, where: str) -> None:
    """Refuse (``NbmlError``) unless ``signed`` (the signature file's bytes) is the key's
    signature of ``manifest``. ``where`` names the package in the message."""
    if signed is None:
        raise UntrustedPackageError(f"refusing to load {where}: it is not signed ({SIGNATURE_FILE} is missing) and a signing "
                        f"key is set; deploy it again with the key (nbml.deploy(..., key=) or ${ENV})")
    try:
        record = json.loads(signed)
        digest = record["hmac"]
        algorithm = record.get("algorithm")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UntrustedPackageError(f"refusing to load {where}: {SIGNATURE_FILE} is not a signature") from None
    if algorithm != ALGORITHM or not isinstance(digest, str):
        raise UntrustedPackageError(f"refusing to load {where}: {SIGNATURE_FILE} is not an {ALGORITHM} signature")
    if not hmac.compare_digest(digest, signature(manifest, key)):
        raise UntrustedPackageError(f"refusing to load {where}: its signature does not match the key: the package was changed "
                        f"after it was signed, or signed with another key")
