"""Reading a service-use file from the national registers (SPEC §11).

One line per participant and period, with a header naming the columns (any order, `;`, `,`
or tab as separator, UTF-8 or Latin-1):

    cpr;period_start;period_end;admissions;admission_days;emergency_visits;outpatient_contacts
    010190-1234;2024-01-01;2024-12-31;1;12;2;14

Dates are YYYY-MM-DD (DD-MM-YYYY and DD.MM.YYYY are read too); counts are whole numbers >= 0.
A line is matched to a participant through the keyed CPR hash; the CPR number itself is never
stored, logged or echoed: problems are reported by line number only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from participants import cpr as cpr_module
from trial.inputs import whole_number

COLUMNS = (
    "cpr",
    "period_start",
    "period_end",
    "admissions",
    "admission_days",
    "emergency_visits",
    "outpatient_contacts",
)
COUNT_COLUMNS = ("admissions", "admission_days", "emergency_visits", "outpatient_contacts")
# The largest count the columns hold (PostgreSQL integer).
MAX_COUNT = 2_147_483_647
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")


@dataclass
class Line:
    number: int
    participant_id: int
    period_start: date
    period_end: date
    counts: dict[str, int]


@dataclass
class ParsedFile:
    lines: list[Line] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def error(self, number: int, message: str) -> None:
        self.problems.append((number, f"Line {number}: {message}"))

    @property
    def errors(self) -> list[str]:
        """Every problem, in the order of the file's lines."""
        return [message for _, message in sorted(self.problems, key=lambda p: p[0])]


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def _lines(reader: Any, result: ParsedFile) -> Iterator[list[str]]:
    """The reader's rows; a line the csv module cannot read (a field over its size limit, a
    stray NUL) ends the file with a problem on that line instead of an exception."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            result.error(reader.line_num or 1, f"the line cannot be read as CSV ({error}).")
            return


def parse(content: bytes, *, hashes_to_participant: Any) -> ParsedFile:
    """Check every line and collect every problem. `hashes_to_participant(list_of_hash_lists)`
    returns {hash: participant id} for the hashes that belong to a participant."""
    result = ParsedFile()
    text = _decode(content)
    rows = text.splitlines()
    if not rows or not rows[0].strip():
        result.error(1, "the file is empty: the first line must be the header.")
        return result
    delimiter = max((";", ",", "\t"), key=rows[0].count)
    reader = _lines(csv.reader(io.StringIO(text), delimiter=delimiter), result)
    header = [column.strip().lower() for column in next(reader, [])]
    missing_columns = [c for c in COLUMNS if c not in header]
    if missing_columns:
        result.error(
            1,
            "the header lacks the column(s) "
            + ", ".join(missing_columns)
            + "; the columns are "
            + ", ".join(COLUMNS)
            + ".",
        )
        return result
    pending = _read_lines(reader, header, result)
    _match(pending, hashes_to_participant(_hashes(pending)), result)
    if not result.lines and not result.problems:
        result.error(2, "the file has a header but no data lines.")
    return result


# (line number, the CPR's lookup hashes, the line's period and counts)
Pending = tuple[int, list[str], dict[str, Any]]


def _hashes(pending: list[Pending]) -> list[list[str]]:
    return [hashes for _, hashes, _ in pending]


def _read_lines(
    reader: Iterator[list[str]], header: list[str], result: ParsedFile
) -> list[Pending]:
    """The data lines that are valid on their own, with their CPR number reduced to its lookup
    hashes; a problem for every other line."""
    position = {column: header.index(column) for column in COLUMNS}
    pending: list[Pending] = []
    for number, fields in enumerate(reader, start=2):
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(header):
            result.error(number, f"expected {len(header)} fields, found {len(fields)}.")
            continue
        values = {column: fields[position[column]].strip() for column in COLUMNS}
        problems, checked = _check_values(values)
        if checked is None:
            result.error(number, "; ".join(problems) + ".")
            continue
        parsed_cpr, data = checked
        pending.append((number, cpr_module.lookup_hashes(parsed_cpr), data))
        del parsed_cpr, checked
    return pending


def _check_values(values: dict[str, str]) -> tuple[list[str], tuple[Any, dict[str, Any]] | None]:
    """(problems, None) or ([], (the parsed CPR number, the period and counts))."""
    problems: list[str] = []
    try:
        parsed_cpr = cpr_module.parse_cpr(values["cpr"])
    except cpr_module.InvalidCpr:
        parsed_cpr = None
        problems.append("the CPR number is not valid")
    start, end = _date(values["period_start"]), _date(values["period_end"])
    if start is None:
        problems.append("period_start is not a date (YYYY-MM-DD)")
    if end is None:
        problems.append("period_end is not a date (YYYY-MM-DD)")
    if start and end and start > end:
        problems.append("period_start is after period_end")
    counts: dict[str, int] = {}
    for column in COUNT_COLUMNS:
        count = whole_number(values[column])
        if count is not None and count <= MAX_COUNT:
            counts[column] = count
        else:
            problems.append(f"{column} must be a whole number from 0 to {MAX_COUNT}")
    if start and end and start <= end:
        problems.extend(_bed_day_problems(start, end, counts))
    if problems:
        return problems, None
    assert parsed_cpr is not None and start and end
    return [], (parsed_cpr, {"start": start, "end": end, "counts": counts})


def _bed_day_problems(start: date, end: date, counts: dict[str, int]) -> list[str]:
    if "admission_days" not in counts:
        return []
    problems = []
    length = (end - start).days + 1
    if counts["admission_days"] > length:
        days = counts["admission_days"]
        problems.append(f"admission_days ({days}) exceeds the period ({length} days)")
    if counts.get("admissions", 0) > 0 and counts["admission_days"] == 0:
        problems.append("an admission counts at least 1 bed day")
    return problems


def _match(pending: list[Pending], owners: dict[str, int], result: ParsedFile) -> None:
    """Each line to its participant (through the keyed CPR hashes); periods of one participant
    may not overlap (counts would be double)."""
    by_participant: dict[int, list[Line]] = {}
    for number, hashes, data in pending:
        participant_id = next((owners[h] for h in hashes if h in owners), None)
        if participant_id is None:
            result.error(number, "no participant in the trial has this CPR number.")
            continue
        line = Line(number, participant_id, data["start"], data["end"], data["counts"])
        for other in by_participant.get(participant_id, []):
            if line.period_start <= other.period_end and other.period_start <= line.period_end:
                result.error(
                    number,
                    f"the period overlaps line {other.number} of the same participant "
                    "(counts would be double).",
                )
                break
        else:
            by_participant.setdefault(participant_id, []).append(line)
            result.lines.append(line)
