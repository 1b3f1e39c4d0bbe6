"""The codebook, in HTML (to read) and CSV (to load): one line per variable of every dataset
file, in file order: variable, label, type, allowed values and their labels, missing-value
codes, instrument, timepoint, the instrument's own code of the variable, derivation and notes.
It lists exactly the variables of the data files because it is written from the same column
list. The HTML version also says what the export deliberately leaves out, and why."""

from __future__ import annotations

import csv
from pathlib import Path

from django.utils.html import escape

from datasets.base import Column
from datasets.context import Withheld
from exports.writers.base import StagedDataset, WrittenFile

HEADER = (
    "dataset",
    "variable",
    "label",
    "type",
    "allowed_values",
    "value_labels",
    "missing_codes",
    "instrument",
    "timepoint",
    "source",
    "derivation",
    "notes",
)


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def value_labels_text(column: Column) -> str:
    return "; ".join(f"{_number(value)} = {label}" for value, label in column.value_labels)


def missing_text(column: Column) -> str:
    return "; ".join(f"{m.code} = {m.label}" for m in column.missing_codes)


def rows(staged: list[StagedDataset]) -> list[tuple[str, ...]]:
    return [
        (
            item.name,
            column.name,
            column.label,
            str(column.type),
            column.allowed_values(),
            value_labels_text(column),
            missing_text(column),
            column.instrument,
            column.timepoint,
            column.source,
            column.derivation,
            column.notes,
        )
        for item in staged
        for column in item.columns
    ]


def write_csv(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    path = directory / "codebook.csv"
    lines = rows(staged)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(lines)
    return WrittenFile("codebook.csv", "codebook", "codebook", "", len(lines), path)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}"
    "table{border-collapse:collapse;width:100%;margin-bottom:2rem}"
    "th,td{border:1px solid #d7dbe3;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eef1f5}code{font-weight:600}"
)


def write_html(
    staged: list[StagedDataset],
    directory: Path,
    *,
    blinded: bool,
    withheld: list[Withheld] | None = None,
) -> WrittenFile:
    path = directory / "codebook.html"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Codebook: analysis datasets</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Codebook: analysis datasets</h1>",
        "<p>"
        + (
            "Blinded export: the arm is replaced by a masked group code (GROUP)."
            if blinded
            else "Unblinded export: ARM is the randomised arm."
        )
        + " Dates are days relative to randomisation (day 0; negative before it). Missing "
        "values with a reason carry the negative codes listed per variable (SPSS: declared "
        "user-missing; Stata: extended missing values .a–.e, with the same labels); variables "
        "without codes listed never carry them (days may be negative). An empty value is "
        "missing without a reason.</p>",
    ]
    if withheld:
        parts.append("<h2>Not in this export</h2><ul>")
        parts.extend(
            f"<li><code>{escape(note.what)}</code>: {escape(note.why)}</li>" for note in withheld
        )
        parts.append("</ul>")
    for item in staged:
        parts.append(f'<h2 id="{escape(item.name)}">{escape(item.name)}</h2>')
        parts.append(
            f"<p>{escape(item.dataset.label)}. {escape(item.dataset.description)} "
            f"Rows: {item.rows}.</p>"
        )
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{escape(title)}</th>" for title in HEADER[1:])
        parts.append("</tr></thead><tbody>")
        for line in rows([item]):
            cells = [f"<td><code>{escape(line[1])}</code></td>"]
            cells += [f"<td>{escape(value)}</td>" for value in line[2:]]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    variables = sum(len(item.columns) for item in staged)
    return WrittenFile("codebook.html", "codebook", "codebook", "", variables, path)
