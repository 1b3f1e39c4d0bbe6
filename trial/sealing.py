"""Sealing of secrets kept in the database (allocation arms of unused slots, list seeds, the
masked-group key of blinded exports). Keys are derived per purpose from settings.CPR_KEYS,
newest first, so the same rotation procedure covers everything that is encrypted at rest."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet(purpose: str) -> MultiFernet:
    return _derived(purpose, tuple(settings.CPR_KEYS))


@functools.lru_cache(maxsize=32)
def _derived(purpose: str, keys: tuple[str, ...]) -> MultiFernet:
    # Kept per purpose and key set (a rotation gives a new set): a list's thousands of slots
    # are unsealed with one set of ciphers rather than one set per slot.
    derived = []
    for key in keys:
        digest = hashlib.sha256(f"imrtrial:seal:{purpose}:".encode() + key.encode()).digest()
        derived.append(Fernet(base64.urlsafe_b64encode(digest)))
    return MultiFernet(derived)


def seal(purpose: str, plaintext: str) -> str:
    return _fernet(purpose).encrypt(plaintext.encode()).decode()


def unseal(purpose: str, token: str) -> str:
    return _fernet(purpose).decrypt(token.encode()).decode()
