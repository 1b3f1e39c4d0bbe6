"""docs/randomisation.md specifies the generator well enough to re-implement it: its worked
example and its reference implementation must agree with the production code."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from randomization import generator

DOC = Path(__file__).resolve().parents[2] / "docs" / "randomisation.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def fenced_after(doc: str, marker: str) -> tuple[str, str]:
    """The attributes of an HTML-comment marker and the fenced block that follows it."""
    match = re.search(rf"<!-- {marker}(.*?)-->\s*```\w*\n(.*?)```", doc, re.S)
    assert match, f"marker {marker} not found in {DOC}"
    return match.group(1), match.group(2)


def attributes(text: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", text))


def test_the_worked_example_draws_are_what_the_generator_computes(doc: str) -> None:
    match = re.search(r"<!-- worked-example-draws(.*?)-->(.*?)\n\n", doc, re.S)
    assert match
    attrs = attributes(match.group(1))
    key = bytes.fromhex(attrs["seed"])
    rows = [line for line in match.group(2).splitlines() if re.match(r"\| \d", line)]
    assert len(rows) == 8
    stream = generator.BlockStream(key, attrs["stratum"], int(attrs["block"]))
    for row in rows:
        # GitHub tables need "|" escaped, even inside code spans.
        cells = [
            c.strip().strip("`").replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip("|"))
        ]
        j, message, head, word, n, limit = cells[:6]
        expected = hmac.new(key, message.encode(), hashlib.sha256).digest()[:4]
        assert message == f"{attrs['stratum']}|{attrs['block']}|{j}"
        assert head == expected.hex()
        assert int(word) == stream.word()
        assert int(limit) == 2**32 - (2**32 % int(n))


def test_the_worked_example_lists_and_hashes_match_the_generator(doc: str) -> None:
    attrs_text, csv = fenced_after(doc, "worked-example-list")
    attrs = attributes(attrs_text)
    seed = generator.seed_from_hex(attrs["seed"])
    lines = csv.strip().splitlines()
    assert lines[0] == generator.CSV_HEADER
    _, hashes = fenced_after(doc, "worked-example-hashes")
    documented = dict(line.split() for line in hashes.strip().splitlines())
    for site in ("BAL", "GLA", "FRB"):
        slots = generator.generate_list(
            seed=seed, stratum=site, min_length=int(attrs["min_length"])
        )
        rows = [line for line in lines[1:] if line.startswith(site + ",")]
        assert rows == generator.canonical_csv(slots).decode().splitlines()[1:]
        assert documented[site] == generator.list_sha256(slots)
    assert documented["seed-commitment"] == generator.seed_commitment(seed)


def test_the_documented_reference_implementation_reproduces_production_lists(doc: str) -> None:
    _, code = fenced_after(doc, "reference-implementation")
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 (our own documentation)
    for seed in (0, 0x0123456789ABCDEFFEDCBA9876543210, (1 << 128) - 1):
        for site in ("BAL", "GLA", "FRB"):
            documented = namespace["imr_list"](generator.seed_to_hex(seed), site, 200, 3, 17)
            produced = generator.generate_list(
                seed=seed, stratum=site, min_length=200, first_block=3, first_sequence=17
            )
            assert [tuple(row) for row in documented] == [
                (s.site, s.sequence, s.block, s.block_size, s.arm) for s in produced
            ]
