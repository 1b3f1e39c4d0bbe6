"""The permuted-block list generator, specified without reference to any random-number library
so that a statistician can regenerate a list from its seed in R or Stata (docs/randomisation.md
is the specification; a test checks the worked example there against this module).

    key      = the 128-bit seed as 16 bytes, big-endian
    draw j   = first 4 bytes (big-endian) of HMAC-SHA256(key, "<stratum>|<block>|<j>")
    U(n)     = next draw W, rejected while W >= 2^32 - (2^32 mod n); then W mod n
    size     = (6, 8, 10)[U(3)]
    block    = m x IMR then m x TAU (m = size / 2), shuffled by Fisher–Yates:
               for i = size-1 down to 1: swap positions i and U(i + 1)

Every block of every stratum has its own counter j (from 0), so strata are independent streams
and a block can be regenerated on its own. Lists are made of whole blocks only.

Nothing here touches Django: the module is the algorithm and nothing else."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ALGORITHM = "IMR-PBR-HMAC-SHA256"
ALGORITHM_VERSION = 1
BLOCK_SIZES: tuple[int, ...] = (6, 8, 10)
ARMS: tuple[str, str] = ("IMR", "TAU")
SEED_BITS = 128
CSV_HEADER = "site,sequence,block,block_size,arm"

_TWO_32 = 1 << 32


@dataclass(frozen=True)
class Slot:
    site: str
    sequence: int
    block: int
    block_size: int
    arm: str


def draw_seed(randbits: Callable[[int], int] = secrets.randbits) -> int:
    """A fresh 128-bit seed from the operating system's CSPRNG. Tests inject `randbits`."""
    seed = randbits(SEED_BITS)
    if not 0 <= seed < (1 << SEED_BITS):
        raise ValueError("randbits returned a value outside 128 bits")
    return seed


def seed_to_hex(seed: int) -> str:
    return f"{seed:032x}"


def seed_from_hex(text: str) -> int:
    cleaned = text.strip().lower()
    if len(cleaned) != 32 or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError("A seed is exactly 32 hexadecimal digits (128 bits).")
    return int(cleaned, 16)


def seed_commitment(seed: int) -> str:
    """SHA-256 of the 16 seed bytes: published in the methods sheet so the seed, revealed
    later from the trial master file, can be shown to be the one used."""
    return hashlib.sha256(seed.to_bytes(16, "big")).hexdigest()


class BlockStream:
    """The draws of one block of one stratum."""

    def __init__(self, key: bytes, stratum: str, block: int) -> None:
        self._key = key
        self._prefix = f"{stratum}|{block}|"
        self.draws = 0

    def word(self) -> int:
        message = (self._prefix + str(self.draws)).encode("ascii")
        self.draws += 1
        return int.from_bytes(hmac.digest(self._key, message, "sha256")[:4], "big")

    def below(self, n: int) -> int:
        """A uniform integer in 0..n-1 by rejection sampling (no modulo bias)."""
        if n < 1:
            raise ValueError("n must be positive")
        limit = _TWO_32 - (_TWO_32 % n)
        while True:
            value = self.word()
            if value < limit:
                return value % n


def _key(seed: int) -> bytes:
    if not 0 <= seed < (1 << SEED_BITS):
        raise ValueError("The seed must be a non-negative integer below 2**128.")
    return seed.to_bytes(16, "big")


def _check_stratum(stratum: str) -> None:
    if not stratum or not stratum.isascii() or "|" in stratum or "," in stratum:
        raise ValueError("A stratum label is plain ASCII without '|' or ','.")


def generate_block(seed: int, stratum: str, block: int) -> list[str]:
    """The arms of block `block` (from 1) of `stratum`, in allocation order."""
    _check_stratum(stratum)
    if block < 1:
        raise ValueError("Blocks are numbered from 1.")
    stream = BlockStream(_key(seed), stratum, block)
    size = BLOCK_SIZES[stream.below(len(BLOCK_SIZES))]
    half = size // 2
    arms = [ARMS[0]] * half + [ARMS[1]] * half
    for i in range(size - 1, 0, -1):
        j = stream.below(i + 1)
        arms[i], arms[j] = arms[j], arms[i]
    return arms


def iter_blocks(seed: int, stratum: str, first_block: int = 1) -> Iterator[tuple[int, list[str]]]:
    block = first_block
    while True:
        yield block, generate_block(seed, stratum, block)
        block += 1


def generate_list(
    *,
    seed: int,
    stratum: str,
    min_length: int,
    first_block: int = 1,
    first_sequence: int = 1,
) -> list[Slot]:
    """Whole blocks from `first_block` on until the list holds at least `min_length` slots;
    never truncated (a trial list always ends on a complete block)."""
    if min_length < 1:
        raise ValueError("A list needs at least one slot.")
    if first_sequence < 1:
        raise ValueError("Sequence numbers start at 1.")
    slots: list[Slot] = []
    sequence = first_sequence
    for block, arms in iter_blocks(seed, stratum, first_block):
        for arm in arms:
            slots.append(Slot(stratum, sequence, block, len(arms), arm))
            sequence += 1
        if len(slots) >= min_length:
            return slots
    raise AssertionError("unreachable")  # pragma: no cover


def canonical_csv(slots: list[Slot]) -> bytes:
    """The list's canonical form: UTF-8, LF line ends, this header, one row per slot in
    sequence order, no quoting, a final newline. Its SHA-256 is the list hash."""
    lines = [CSV_HEADER]
    lines.extend(f"{s.site},{s.sequence},{s.block},{s.block_size},{s.arm}" for s in slots)
    return ("\n".join(lines) + "\n").encode("utf-8")


def list_sha256(slots: list[Slot]) -> str:
    return hashlib.sha256(canonical_csv(slots)).hexdigest()
