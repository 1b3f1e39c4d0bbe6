"""Study IDs like BAL-007-K: site code, the participant's number at the site, and a check
character (Luhn mod 36) that catches any single mistyped character and most swaps of two
neighbouring characters."""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STUDY_ID_PATTERN = re.compile(r"^([A-Z]{3})-(\d{3,})-([0-9A-Z])$")


def check_character(payload: str) -> str:
    n = len(ALPHABET)
    factor = 2
    total = 0
    for char in reversed(payload):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def make_study_id(site_code: str, number: int) -> str:
    digits = f"{number:03d}"
    return f"{site_code}-{digits}-{check_character(site_code + digits)}"


def is_valid_study_id(text: str) -> bool:
    match = STUDY_ID_PATTERN.match(text.strip().upper())
    if not match:
        return False
    site, digits, check = match.groups()
    return check_character(site + digits) == check
