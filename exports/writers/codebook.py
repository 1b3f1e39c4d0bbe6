"""The codebook, in HTML (to read) and CSV (to load): one line per variable of every dataset
file, in file order: variable, label, type, allowed values and their labels, missing-value
codes, instrument, timepoint, the instrument's own code of the variable, derivation and notes.
It lists exactly the variables of the data files because it is written from the same column
list. The HTML version also says what the export deliberately leaves out, and why."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from datasets.base import Column, Dataset, rounding_policy
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
    "decimals",
)


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def value_labels_text(column: Column) -> str:
    return "; ".join(f"{_number(value)} = {label}" for value, label in column.value_labels)


def missing_text(column: Column) -> str:
    return "; ".join(f"{m.code} = {m.label}" for m in column.missing_codes)


def _lines(datasets: Sequence[Dataset]) -> list[tuple[str, ...]]:
    return [
        (
            dataset.name,
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
            "" if column.decimals is None else str(column.decimals),
        )
        for dataset in datasets
        for column in dataset.columns
    ]


def rows(staged: list[StagedDataset]) -> list[tuple[str, ...]]:
    return _lines([item.dataset for item in staged])


def csv_text(datasets: Sequence[Dataset]) -> str:
    """The codebook as CSV (UTF-8, CRLF): one line per variable of every dataset."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_lines(datasets))
    return buffer.getvalue()


def write_csv(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    path = directory / "codebook.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(csv_text([item.dataset for item in staged]))
    variables = sum(len(item.columns) for item in staged)
    return WrittenFile("codebook.csv", "codebook", "codebook", "", variables, path)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}"
    "table{border-collapse:collapse;width:100%;margin-bottom:2rem}"
    "th,td{border:1px solid #d7dbe3;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eef1f5}code{font-weight:600}"
)


def _allocation_text(*, blinded: bool, allocation_withheld: bool) -> str:
    if allocation_withheld:
        return gettext(
            "Blinded export before the lock: no allocation variable at all (no arm, no group)."
        )
    if blinded:
        return gettext("Blinded export: the arm is replaced by a masked group code (GROUP).")
    return gettext("Unblinded export: ARM is the randomised arm.")


def html_text(
    datasets: Sequence[tuple[Dataset, int | None]],
    *,
    blinded: bool,
    withheld: Sequence[Withheld] = (),
    allocation_withheld: bool = False,
    title: str | None = None,
    stylesheet: str | None = None,
) -> str:
    """The codebook as one HTML page: per dataset (and its row count, when it describes
    written files) a table of its variables. Styled inline as a file; a page served under the
    site's CSP links `stylesheet` instead (no inline style there)."""
    title = title or gettext("Codebook: analysis datasets")
    language = translation.get_language() or "en"
    parts = [
        "<!doctype html>",
        f'<html lang="{escape(language)}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        (
            f'<link rel="stylesheet" href="{escape(stylesheet)}"></head><body>'
            if stylesheet
            else f"<style>{_STYLE}</style></head><body>"
        ),
        f"<h1>{escape(title)}</h1>",
        "<p>"
        + escape(_allocation_text(blinded=blinded, allocation_withheld=allocation_withheld))
        + " "
        + escape(
            gettext(
                "Dates are days relative to randomisation (day 0; negative before it). Missing "
                "values with a reason carry the negative codes listed per variable (SPSS: "
                "declared user-missing; Stata: extended missing values .a–.e, with the same "
                "labels); variables without codes listed never carry them (days may be "
                "negative). An empty value is missing without a reason."
            )
        )
        + " "
        + escape(rounding_policy())
        + "</p>",
    ]
    if withheld:
        parts.append(f"<h2>{escape(gettext('Not in this export'))}</h2><ul>")
        parts.extend(
            f"<li><code>{escape(note.what)}</code>: {escape(note.why)}</li>" for note in withheld
        )
        parts.append("</ul>")
    for dataset, count in datasets:
        parts.append(f'<h2 id="{escape(dataset.name)}">{escape(dataset.name)}</h2>')
        described = f"{escape(dataset.label)}. {escape(dataset.description)}"
        if count is not None:
            described += " " + escape(gettext("Rows: %(rows)d.") % {"rows": count})
        parts.append(f"<p>{described}</p>")
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{escape(title)}</th>" for title in HEADER[1:])
        parts.append("</tr></thead><tbody>")
        for line in _lines([dataset]):
            cells = [f"<td><code>{escape(line[1])}</code></td>"]
            cells += [f"<td>{escape(value)}</td>" for value in line[2:]]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(
    staged: list[StagedDataset],
    directory: Path,
    *,
    blinded: bool,
    withheld: list[Withheld] | None = None,
    allocation_withheld: bool = False,
) -> WrittenFile:
    path = directory / "codebook.html"
    text = html_text(
        [(item.dataset, item.rows) for item in staged],
        blinded=blinded,
        withheld=withheld or (),
        allocation_withheld=allocation_withheld,
    )
    path.write_text(text, encoding="utf-8")
    variables = sum(len(item.columns) for item in staged)
    return WrittenFile("codebook.html", "codebook", "codebook", "", variables, path)
