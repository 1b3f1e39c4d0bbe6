"""Reading and checking allocation-list files (CSV: site, sequence, block, block size, arm).

An imported list is accepted whole or not at all: `check_import` returns every reason for
refusal, each with the line it was found on, and the caller writes nothing unless the list is
empty. No message ever quotes an arm, so refusals can be shown and logged safely."""

from __future__ import annotations

import csv
import io
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from randomization.generator import ARMS, BLOCK_SIZES, Slot
from trial.inputs import whole_number

MAX_ROWS = 100_000
MAX_REPORTED = 50

REQUIRED = ("site", "sequence", "block", "block_size", "arm")
# Column names other tools write (R blockrand, Sealed Envelope, Stata ralloc) for ours.
ALIASES = {
    "stratum": "site",
    "site_code": "site",
    "id": "sequence",
    "seq": "sequence",
    "sequence_number": "sequence",
    "block_id": "block",
    "blockid": "block",
    "block_number": "block",
    "blocksize": "block_size",
    "size": "block_size",
    "treatment": "arm",
    "allocation": "arm",
}


@dataclass(frozen=True)
class Row:
    line: int
    site: str
    sequence: int
    block: int
    block_size: int
    arm: str

    def slot(self) -> Slot:
        return Slot(self.site, self.sequence, self.block, self.block_size, self.arm)


@dataclass(frozen=True)
class SiteState:
    """What the database already holds for a site: its last sequence and block (0 if none)."""

    last_sequence: int = 0
    last_block: int = 0

    @property
    def has_list(self) -> bool:
        return self.last_sequence > 0


class ListFileRefused(Exception):
    """The file cannot be used; `errors` says why, with line numbers."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = _capped(errors)
        super().__init__("; ".join(self.errors))


def _capped(errors: list[str]) -> list[str]:
    if len(errors) <= MAX_REPORTED:
        return errors
    return [*errors[:MAX_REPORTED], f"... and {len(errors) - MAX_REPORTED} more problems."]


def _normalise_header(name: str) -> str:
    cleaned = name.strip().strip('"').lower()
    for char in " .-/":
        cleaned = cleaned.replace(char, "_")
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    cleaned = cleaned.strip("_")
    return ALIASES.get(cleaned, cleaned)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ListFileRefused(["The file is not UTF-8 text (save it as CSV UTF-8)."]) from None


def _positive_int(text: str) -> int | None:
    text = text.strip()
    value = whole_number(text)
    return value if value is not None and value > 0 else None


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's records; a line the csv module cannot read (a field over its size limit)
    refuses the file with its line number instead of raising csv.Error."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ListFileRefused(
                [f"line {reader.line_num}: the line cannot be read as CSV ({error})."]
            ) from None


def parse(data: bytes | str) -> list[Row]:
    """The rows of a list file. Raises ListFileRefused for anything that is not a well-formed
    list row; the rules that need the whole list (blocks, sequences) are `check_*`'s job."""
    text = _decode(data)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise ListFileRefused(["The file is empty."])
    # Danish spreadsheet programs write semicolon-separated "CSV".
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    errors: list[str] = []
    columns: dict[str, int] | None = None
    width = 0
    rows: list[Row] = []
    for record in _records(reader):
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if columns is None:
            columns, width = _header(record, line)
            continue
        if len(rows) >= MAX_ROWS:
            raise ListFileRefused([f"The file has more than {MAX_ROWS} rows."])
        if len(record) != width:
            errors.append(f"line {line}: {len(record)} fields where the header has {width}.")
            continue
        row, row_errors = _row({name: record[i].strip() for name, i in columns.items()}, line)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    if columns is None:
        raise ListFileRefused(["The file is empty."])
    if errors:
        raise ListFileRefused(errors)
    if not rows:
        raise ListFileRefused(["The file has a header but no rows."])
    return rows


def _header(record: list[str], line: int) -> tuple[dict[str, int], int]:
    """({column: position}, number of fields) of the header; refused unless it has exactly the
    required columns (under our names or their aliases), each once."""
    names = [_normalise_header(name) for name in record]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in REQUIRED if n not in names]
    unknown = [record[i].strip() for i, n in enumerate(names) if n not in REQUIRED]
    errors = []
    if duplicated:
        errors.append(f"line {line}: column(s) {', '.join(duplicated)} appear twice.")
    if missing:
        errors.append(
            f"line {line}: the header lacks column(s) {', '.join(missing)} "
            f"(expected: {', '.join(REQUIRED)})."
        )
    if unknown:
        errors.append(
            f"line {line}: unknown column(s) {', '.join(unknown)}; "
            f"a list file has exactly the columns {', '.join(REQUIRED)}."
        )
    if errors:
        raise ListFileRefused(errors)
    return {name: names.index(name) for name in REQUIRED}, len(names)


def _row(values: dict[str, str], line: int) -> tuple[Row | None, list[str]]:
    """The row of one line, or None and every problem of the line."""
    errors = []
    site = values["site"].upper()
    if not site:
        errors.append(f"line {line}: the site is empty.")
    sequence = _positive_int(values["sequence"])
    if sequence is None:
        errors.append(f"line {line}: the sequence number is not a positive whole number.")
    block = _positive_int(values["block"])
    if block is None:
        errors.append(f"line {line}: the block number is not a positive whole number.")
    size = _positive_int(values["block_size"])
    if size not in BLOCK_SIZES:
        errors.append(
            f"line {line}: block size {values['block_size']!r} is not one of "
            f"{', '.join(map(str, BLOCK_SIZES))}."
        )
    arm = values["arm"].upper()
    if arm not in ARMS:
        errors.append(f"line {line}: the arm is not {' or '.join(ARMS)}.")
    if errors:
        return None, errors
    assert sequence is not None and block is not None and size is not None
    return Row(line, site, sequence, block, size, arm), []


def by_site(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.site].append(row)
    return dict(grouped)


def _check_site(rows: list[Row], state: SiteState) -> list[str]:
    """Contiguous, unique sequences continuing the stored list; whole, balanced blocks with one
    stated size each, numbered on from the stored list's last block."""
    order_errors = _order_errors(rows)
    if order_errors:
        return order_errors
    return _sequence_errors(rows, state) + _block_errors(rows, state)


def _order_errors(rows: list[Row]) -> list[str]:
    """Each sequence number once, and the rows in sequence order (the other checks need both)."""
    site = rows[0].site
    errors: list[str] = []
    seen: dict[int, int] = {}
    for row in rows:
        if row.sequence in seen:
            errors.append(
                f"line {row.line}: sequence {row.sequence} at {site} appears again "
                f"(first on line {seen[row.sequence]})."
            )
        else:
            seen[row.sequence] = row.line
    if errors:
        return errors
    ordered = sorted(rows, key=lambda r: r.sequence)
    if ordered != rows:
        out_of_order = next(r for r, o in zip(rows, ordered, strict=True) if r != o)
        errors.append(
            f"line {out_of_order.line}: the rows of {site} are not in sequence order "
            f"(sequence {out_of_order.sequence})."
        )
    return errors


def _sequence_errors(rows: list[Row], state: SiteState) -> list[str]:
    """The sequences continue the stored list without a gap."""
    site = rows[0].site
    errors: list[str] = []
    expected = state.last_sequence + 1
    if rows[0].sequence != expected:
        where = f"the stored list ends at {state.last_sequence}" if state.has_list else "a new list"
        errors.append(
            f"line {rows[0].line}: {site} starts at sequence {rows[0].sequence}; "
            f"it must start at {expected} ({where})."
        )
    for previous, row in itertools.pairwise(rows):
        if row.sequence != previous.sequence + 1:
            errors.append(
                f"line {row.line}: sequence {row.sequence} follows {previous.sequence} at "
                f"{site}; sequences {previous.sequence + 1} to {row.sequence - 1} are missing."
            )
    return errors


def _block_errors(rows: list[Row], state: SiteState) -> list[str]:
    """Blocks of consecutive rows, numbered on from the stored list's last block, each whole
    and balanced."""
    site = rows[0].site
    blocks: list[list[Row]] = []
    for row in rows:
        if blocks and blocks[-1][0].block == row.block:
            blocks[-1].append(row)
        else:
            blocks.append([row])
    errors: list[str] = []
    expected_block = state.last_block + 1
    seen_blocks: dict[int, int] = {}
    for block_rows in blocks:
        first = block_rows[0]
        number = first.block
        if number in seen_blocks:
            errors.append(
                f"line {first.line}: block {number} at {site} is interrupted "
                f"(its rows are not consecutive; it started on line {seen_blocks[number]})."
            )
            continue
        seen_blocks[number] = first.line
        if number != expected_block:
            errors.append(
                f"line {first.line}: block {number} at {site} where block {expected_block} "
                "was expected (blocks are numbered on without gaps)."
            )
        expected_block = number + 1
        errors.extend(_one_block_errors(block_rows))
    return errors


def _one_block_errors(block_rows: list[Row]) -> list[str]:
    """One stated size, as many rows as it states, as many of each arm."""
    first, last = block_rows[0], block_rows[-1]
    number, site = first.block, first.site
    sizes = {r.block_size for r in block_rows}
    if len(sizes) > 1:
        return [
            f"line {first.line}: block {number} at {site} states different sizes "
            f"({', '.join(map(str, sorted(sizes)))})."
        ]
    size = first.block_size
    if len(block_rows) != size:
        return [
            f"lines {first.line}-{last.line}: block {number} at {site} has "
            f"{len(block_rows)} rows but states size {size} (only whole blocks)."
        ]
    counts = {arm: sum(1 for r in block_rows if r.arm == arm) for arm in ARMS}
    if len(set(counts.values())) != 1:
        return [
            f"lines {first.line}-{last.line}: block {number} at {site} is not "
            f"balanced 1:1 ({size // 2} of each arm needed)."
        ]
    return []


def check_import(
    rows: list[Row], *, known_sites: Iterable[str], states: dict[str, SiteState], extend: bool
) -> None:
    """Every rule an imported list must meet. Raises ListFileRefused with all reasons."""
    known = set(known_sites)
    errors: list[str] = []
    for site, site_rows in by_site(rows).items():
        if site not in known:
            lines = ", ".join(str(r.line) for r in site_rows[:5])
            more = " ..." if len(site_rows) > 5 else ""
            errors.append(
                f"line(s) {lines}{more}: unknown site {site!r} (known: {', '.join(sorted(known))})."
            )
            continue
        state = states.get(site, SiteState())
        if state.has_list and not extend:
            errors.append(
                f"line {site_rows[0].line}: {site} already has an allocation list; importing "
                "again would overwrite it. To append complete blocks, import as an extension."
            )
            continue
        if extend and not state.has_list:
            errors.append(
                f"line {site_rows[0].line}: {site} has no allocation list to extend; "
                "import it as a new list."
            )
            continue
        errors.extend(_check_site(site_rows, state))
    if errors:
        raise ListFileRefused(errors)


def compare(rows: list[Row], stored: dict[str, dict[int, Slot]]) -> list[str]:
    """Differences between a file and the stored list, by line, without quoting arms."""
    errors: list[str] = []
    for row in rows:
        slot = stored.get(row.site, {}).get(row.sequence)
        if slot is None:
            errors.append(
                f"line {row.line}: {row.site} sequence {row.sequence} is not in the stored list."
            )
            continue
        differing = [
            name
            for name, mine, theirs in (
                ("block", row.block, slot.block),
                ("block size", row.block_size, slot.block_size),
                ("arm", row.arm, slot.arm),
            )
            if mine != theirs
        ]
        if differing:
            errors.append(
                f"line {row.line}: {row.site} sequence {row.sequence} differs from the stored "
                f"list ({', '.join(differing)})."
            )
    return errors
