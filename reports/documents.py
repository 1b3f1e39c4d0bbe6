"""A paper table as CSV or as a Word document a statistician can paste into a manuscript
(python-docx)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from docx import Document
from docx.shared import Pt

from reports.selectors.tables import PaperTable

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def as_csv(table: PaperTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheets read UTF-8


def as_docx(table: PaperTable) -> bytes:
    document = Document()
    # A fixed date: the document says nothing about when or by whom it was made.
    document.core_properties.created = datetime(2000, 1, 1)
    document.core_properties.modified = datetime(2000, 1, 1)
    document.core_properties.author = ""
    document.core_properties.last_modified_by = ""
    document.add_heading(table.title, level=2)
    grid = document.add_table(rows=1, cols=len(table.headers))
    grid.style = "Table Grid"
    for cell, header in zip(grid.rows[0].cells, table.headers, strict=True):
        cell.text = header
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in table.rows:
        cells = grid.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = str(value)
    for row in grid.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)
    document.add_paragraph(table.note)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


WRITERS = {"csv": as_csv, "docx": as_docx}
