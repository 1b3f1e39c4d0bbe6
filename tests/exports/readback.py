"""Reading an export back with the tools statisticians use (pyreadstat, pandas, pyarrow, an XML
parser), each normalised to one form: a list of rows {variable: value}, with reason-coded
missing values as their negative codes and other missing values as None."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat

from instruments import metadata

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
# Stata's extended missing value -> the reason's numeric code (both from the assessments app).
CODE_OF_LETTER = {
    metadata.STATA_MISSING[reason]: code for reason, code in metadata.MISSING_CODES.items()
}


def _number(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "integer":
        return int(value)
    if kind == "decimal":
        return float(value)
    return value


def kinds_of(codebook_rows: list[dict[str, str]], dataset: str) -> dict[str, str]:
    return {r["variable"]: r["type"] for r in codebook_rows if r["dataset"] == dataset}


def read_codebook(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_csv(path: Path, kinds: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            rows.append(
                {
                    name: (value if kinds[name] == "text" else _number(value or None, kinds[name]))
                    for name, value in row.items()
                }
            )
        return list(reader.fieldnames or []), rows


def _frame_rows(frame: pd.DataFrame, kinds: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append({name: _number(record[name], kinds[name]) for name in frame.columns})
    return rows


def read_sav(path: Path, kinds: dict[str, str]) -> tuple[list[str], list[dict[str, Any]], Any]:
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    return list(frame.columns), _frame_rows(frame, kinds), meta


def read_dta(path: Path, kinds: dict[str, str]) -> tuple[list[str], list[dict[str, Any]], Any]:
    # pandas keeps Stata's extended missing values (.a, .e ...) apart from system missing.
    frame = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {}
        for name in frame.columns:
            value = record[name]
            if isinstance(value, pd.io.stata.StataMissingValue):
                row[name] = CODE_OF_LETTER.get(value.string)
            else:
                row[name] = _number(value, kinds[name])
        rows.append(row)
    _, meta = pyreadstat.read_dta(str(path), metadataonly=True)
    return list(frame.columns), rows, meta


def read_parquet(path: Path) -> tuple[list[str], list[dict[str, Any]], Any]:
    table = pq.read_table(path)
    return table.column_names, table.to_pylist(), table.schema


def read_odm(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (our own file)


def odm_missing_code(item: ET.Element) -> int:
    """The reason code of a null ItemData: the FlagValue (in CL.MISSING) of its annotation."""
    flag = item.find(f"{ODM}Annotation/{ODM}Flag/{ODM}FlagValue")
    assert flag is not None and flag.get("CodeListOID") == "CL.MISSING", item.attrib
    return int(flag.text or "")


def one(element: ET.Element, path: str) -> ET.Element:
    """The element at `path` under `element`, which the file must have."""
    found = element.find(path)
    assert found is not None, f"no {path} in {element.tag}"
    return found


def attr(element: ET.Element, name: str) -> str:
    """An attribute the element must have."""
    value = element.get(name)
    assert value is not None, f"{element.tag} has no {name}"
    return value


def text(element: ET.Element, path: str) -> str:
    """The text of the element at `path`, which must have some."""
    found = one(element, path).text
    assert found is not None, f"{path} is empty"
    return found


def odm_form_rows(root: ET.Element, form_oid: str) -> list[dict[str, Any]]:
    """One dict per FormData of that form: SUBJECT, EVENT and the items by variable name
    (reason-coded missing values as their codes)."""
    names = {
        d.attrib["OID"]: (d.attrib["Name"], d.get("DataType")) for d in root.iter(f"{ODM}ItemDef")
    }
    rows = []
    for subject in root.iter(f"{ODM}SubjectData"):
        for event in subject.iter(f"{ODM}StudyEventData"):
            for form in event.iter(f"{ODM}FormData"):
                if form.get("FormOID") != form_oid:
                    continue
                row: dict[str, Any] = {
                    "SUBJECT": subject.get("SubjectKey"),
                    "EVENT": event.get("StudyEventOID"),
                }
                if form.get("FormRepeatKey") is not None:
                    row["REPEAT"] = form.get("FormRepeatKey")
                for item in form.iter(f"{ODM}ItemData"):
                    name, kind = names[item.attrib["ItemOID"]]
                    if item.get("IsNull") == "Yes":
                        row[name] = odm_missing_code(item)
                    elif kind == "integer":
                        row[name] = int(item.attrib["Value"])
                    elif kind == "float":
                        row[name] = float(item.attrib["Value"])
                    else:
                        row[name] = item.get("Value")
                rows.append(row)
    return rows
