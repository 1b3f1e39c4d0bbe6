"""Danish CPR numbers: parsing, encryption at rest and the keyed hash used to find duplicates.

The number is encrypted with the newest key of settings.CPR_KEYS (Fernet; older keys still
decrypt, which is how keys rotate) and is never stored, logged or returned in plain text. The
duplicate check uses an HMAC of the number, so equality can be tested without decrypting."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.utils.translation import gettext_lazy as _

CPR_PATTERN = re.compile(r"^(\d{2})(\d{2})(\d{2})-?(\d{4})$")


class InvalidCpr(ValueError):
    pass


@dataclass(frozen=True)
class Cpr:
    digits: str  # ten digits, no hyphen
    birth_date: date

    @property
    def masked(self) -> str:
        return f"{self.digits[:6]}-XXXX"

    def __repr__(self) -> str:  # never let the number reach a log or a traceback
        return f"Cpr(masked={self.masked!r})"

    __str__ = __repr__


def birth_century(year_digits: int, seventh_digit: int) -> int:
    """The century rule of the CPR register (the 7th digit with the two year digits)."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if year_digits <= 36 else 1900
    # 5 to 8
    return 2000 if year_digits <= 57 else 1800


def parse_cpr(raw: str, *, today: date | None = None) -> Cpr:
    """Validate DDMMYY-SSSS (hyphen optional). The modulus-11 check is deliberately not
    applied: numbers issued since 2007 need not satisfy it."""
    text = (raw or "").strip()
    match = CPR_PATTERN.match(text)
    if not match:
        raise InvalidCpr(_("Enter the CPR number as DDMMYY-SSSS (ten digits, hyphen optional)."))
    day, month, year2, serial = (
        int(match.group(1)),
        int(match.group(2)),
        int(match.group(3)),
        match.group(4),
    )
    year = birth_century(year2, int(serial[0])) + year2
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidCpr(
            _("The first six digits of the CPR number are not a real date (DDMMYY).")
        ) from None
    if born > (today or date.today()):
        raise InvalidCpr(_("The CPR number gives a date of birth in the future."))
    return Cpr(digits=text.replace("-", ""), birth_date=born)


def sex_of(cpr: Cpr) -> str:
    """The sex the CPR register gives by the last digit: odd male, even female. A person's
    sex may differ from it (numbers are not reissued), so this is a check, not a rule."""
    return "male" if int(cpr.digits[-1]) % 2 else "female"


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _fernet_keys() -> list[bytes]:
    return [key.encode() for key in settings.CPR_KEYS]


def encrypt(cpr: Cpr) -> str:
    return MultiFernet([Fernet(k) for k in _fernet_keys()]).encrypt(cpr.digits.encode()).decode()


def decrypt(token: str) -> str:
    return MultiFernet([Fernet(k) for k in _fernet_keys()]).decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same number under the newest key (for key rotation)."""
    return MultiFernet([Fernet(k) for k in _fernet_keys()]).rotate(token.encode()).decode()


def _hash_with(key: bytes, digits: str) -> str:
    # A separate HMAC key derived from the Fernet key, so the hash never reveals key material.
    hmac_key = hashlib.sha256(b"imrtrial:cpr-hash:" + key).digest()
    return hmac.new(hmac_key, digits.encode(), hashlib.sha256).hexdigest()


def keyed_hash(cpr: Cpr) -> str:
    """The hash stored with a participant: under the newest key."""
    return _hash_with(_fernet_keys()[0], cpr.digits)


def lookup_hashes(cpr: Cpr) -> list[str]:
    """Hashes under every configured key, so a duplicate is found even before all rows have
    been re-hashed after a key rotation."""
    return [_hash_with(key, cpr.digits) for key in _fernet_keys()]
