"""Exact properties of the production generator (RANDOMISATION.md §3, "Exact invariants")."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from randomization import generator
from randomization.generator import BlockStream, generate_block, generate_list

SEEDS = [0, 1, 0x0123456789ABCDEFFEDCBA9876543210, (1 << 128) - 1, 0x5EED1361698]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_block_holds_half_of_each_arm_with_a_size_of_6_8_or_10(seed: int) -> None:
    for block in range(1, 400):
        arms = generate_block(seed, "BAL", block)
        assert len(arms) in (6, 8, 10)
        assert arms.count("IMR") == arms.count("TAU") == len(arms) // 2


@pytest.mark.parametrize("seed", SEEDS)
def test_the_imbalance_is_zero_at_every_block_end_and_never_above_half_a_block(seed: int) -> None:
    slots = generate_list(seed=seed, stratum="GLA", min_length=3000)
    difference = 0
    for index, slot in enumerate(slots):
        difference += 1 if slot.arm == "IMR" else -1
        assert abs(difference) <= slot.block_size // 2 <= 5
        block_ends = index + 1 == len(slots) or slots[index + 1].block != slot.block
        if block_ends:
            assert difference == 0


@pytest.mark.parametrize("length", [1, 5, 6, 7, 10, 11, 66, 67, 200])
def test_the_list_reaches_the_length_asked_for_and_ends_on_a_complete_block(length: int) -> None:
    slots = generate_list(seed=SEEDS[2], stratum="FRB", min_length=length)
    assert len(slots) >= length
    assert [s.sequence for s in slots] == list(range(1, len(slots) + 1))
    last_block = [s for s in slots if s.block == slots[-1].block]
    assert len(last_block) == last_block[0].block_size
    # Whole blocks only, and no block more than needed.
    assert len(slots) - last_block[0].block_size < length
    blocks = sorted({s.block for s in slots})
    assert blocks == list(range(1, len(blocks) + 1))


def test_an_extension_continues_sequences_and_blocks_where_the_list_ended() -> None:
    first = generate_list(seed=7, stratum="BAL", min_length=20)
    more = generate_list(
        seed=8,
        stratum="BAL",
        min_length=12,
        first_block=first[-1].block + 1,
        first_sequence=first[-1].sequence + 1,
    )
    assert more[0].sequence == first[-1].sequence + 1
    assert more[0].block == first[-1].block + 1
    assert [s.sequence for s in first + more] == list(range(1, len(first) + len(more) + 1))


def test_the_same_seed_gives_a_byte_identical_list_and_a_different_seed_a_different_one() -> None:
    a = generate_list(seed=SEEDS[2], stratum="BAL", min_length=204)
    b = generate_list(seed=SEEDS[2], stratum="BAL", min_length=204)
    c = generate_list(seed=SEEDS[2] + 1, stratum="BAL", min_length=204)
    assert generator.canonical_csv(a) == generator.canonical_csv(b)
    assert generator.list_sha256(a) == hashlib.sha256(generator.canonical_csv(b)).hexdigest()
    assert generator.canonical_csv(a) != generator.canonical_csv(c)


def test_each_stratum_is_its_own_stream() -> None:
    seed = SEEDS[2]
    bal = [generate_block(seed, "BAL", b) for b in range(1, 50)]
    gla = [generate_block(seed, "GLA", b) for b in range(1, 50)]
    assert bal != gla
    # A block depends only on (seed, stratum, block): generating it alone, or after any other
    # stratum's blocks, gives the same arms as inside the whole list.
    listed = generate_list(seed=seed, stratum="BAL", min_length=400)
    for block in (1, 17, 33):
        inside = [s.arm for s in listed if s.block == block]
        assert inside == generate_block(seed, "BAL", block)


def test_the_canonical_csv_has_the_documented_shape() -> None:
    slots = generate_list(seed=3, stratum="BAL", min_length=6)
    text = generator.canonical_csv(slots).decode()
    lines = text.split("\n")
    assert lines[0] == "site,sequence,block,block_size,arm"
    assert text.endswith("\n") and "\r" not in text
    assert lines[1].startswith("BAL,1,1,")
    assert len(lines) == len(slots) + 2  # header, rows, the empty string after the final LF


class ScriptedStream(BlockStream):
    def __init__(self, words: list[int]) -> None:
        super().__init__(b"\0" * 16, "BAL", 1)
        self.words = list(words)

    def word(self) -> int:
        self.draws += 1
        return self.words.pop(0)


def test_rejection_sampling_skips_the_draws_that_would_bias_the_result() -> None:
    top = (1 << 32) - 1  # 2^32 mod 3 = 1, so only 2^32 - 1 is rejected for n = 3
    stream = ScriptedStream([top, 7])
    assert stream.below(3) == 7 % 3
    assert stream.draws == 2
    # For n = 10, 2^32 mod 10 = 6: the six largest words are rejected.
    stream = ScriptedStream([top - 5, top - 6])
    assert stream.below(10) == (top - 6) % 10


def test_a_draw_is_the_first_four_bytes_of_hmac_sha256_of_stratum_block_and_counter() -> None:
    seed = SEEDS[2]
    stream = BlockStream(seed.to_bytes(16, "big"), "FRB", 12)
    for counter in range(3):
        digest = hmac.new(seed.to_bytes(16, "big"), f"FRB|12|{counter}".encode(), "sha256")
        assert stream.word() == int.from_bytes(digest.digest()[:4], "big")


def test_seeds_are_128_bits_from_the_injected_source_and_round_trip_as_hex() -> None:
    asked: list[int] = []

    def randbits(bits: int) -> int:
        asked.append(bits)
        return 0xABC

    seed = generator.draw_seed(randbits)
    assert asked == [128]
    assert generator.seed_to_hex(seed) == "00000000000000000000000000000abc"
    assert generator.seed_from_hex(generator.seed_to_hex(SEEDS[3])) == SEEDS[3]
    with pytest.raises(ValueError):
        generator.seed_from_hex("xyz")
    with pytest.raises(ValueError):
        generator.draw_seed(lambda bits: 1 << 128)
    assert generator.seed_commitment(1) == hashlib.sha256(b"\0" * 15 + b"\1").hexdigest()


def test_production_seeds_come_from_the_operating_system_and_differ() -> None:
    assert len({generator.draw_seed() for _ in range(5)}) == 5
