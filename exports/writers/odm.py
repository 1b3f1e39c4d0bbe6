"""CDISC ODM 1.3.2 (snapshot) of every dataset in one XML document.

The metadata section is generated from the datasets' column metadata, which comes from the
instrument registry: one StudyEventDef per event (enrolment, T0, T1, T2), one FormDef and
ItemGroupDef per dataset, one ItemDef per variable with its label, a CodeList for value labels
and a MethodDef for each derivation. Clinical data follow subject by subject (study ID), event
by event, merged in one pass over the staged datasets so that memory stays flat.

A value missing with a reason is written as `IsNull="Yes"` with the reason in attributes of
this system's own namespace (ODM's extension mechanism); a value missing without a reason is
absent. Subject-level facts repeated in every dataset (site, arm or group) and the keys are not
repeated as items of each form."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from datasets.base import Column, OdmBinding, OdmEvent, VarType, missing_by_code
from exports.writers.base import Progress, StagedDataset, WrittenFile

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
EXT_NS = "urn:imrtrial:odm:1"
STUDY_OID = "NCT01361698"
FILE_NAME = "odm.xml"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ODM_TYPES = {VarType.INTEGER: "integer", VarType.DECIMAL: "float", VarType.TEXT: "text"}
# Columns that belong to the subject or the event, not to each form.
SUBJECT_LEVEL = frozenset({"STUDY_ID", "SITE", "ARM", "GROUP"})


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _text_value(value: Any, kind: VarType) -> str:
    if kind == VarType.DECIMAL:
        return repr(float(value))
    return str(value)


def form_key(binding: OdmBinding) -> str:
    return binding.form_oid.removeprefix("F.")


def item_columns(staged: StagedDataset) -> list[Column]:
    """The columns that become items: not the subject, event and repeat keys (they are the
    structure of the clinical data), nor other key columns (constant within a form, e.g. the
    instrument code), nor the subject-level facts outside the enrolment form."""
    binding = staged.dataset.odm
    assert binding is not None
    skip = {binding.subject_column, binding.event_column, binding.repeat_column}
    if binding.event is None or binding.event.order != 0:
        skip |= SUBJECT_LEVEL  # repeated facts of the subject: in the enrolment form only
    return [c for c in staged.columns if c.name not in skip and not c.key]


def item_oid(staged: StagedDataset, column: Column) -> str:
    assert staged.dataset.odm is not None
    return f"I.{form_key(staged.dataset.odm)}.{column.name}"


class _Writer:
    def __init__(self, handle: Any) -> None:
        self.xml = XMLGenerator(handle, encoding="utf-8", short_empty_elements=True)
        self.depth = 0

    def start(self, name: str, attrs: dict[str, str] | None = None) -> None:
        if self.depth:
            self.xml.ignorableWhitespace("\n" + "  " * self.depth)
        self.xml.startElement(name, AttributesImpl(dict(attrs or {})))
        self.depth += 1

    def end(self, name: str, *, inline: bool = False) -> None:
        self.depth -= 1
        if not inline:
            self.xml.ignorableWhitespace("\n" + "  " * self.depth)
        self.xml.endElement(name)

    def leaf(self, name: str, attrs: dict[str, str] | None = None, text: str = "") -> None:
        self.start(name, attrs)
        if text:
            self.xml.characters(text)
        self.end(name, inline=True)

    def translated(self, wrapper: str, text: str) -> None:
        self.start(wrapper)
        self.leaf("TranslatedText", {"xml:lang": "en"}, text)
        self.end(wrapper)


def _events(staged: list[StagedDataset]) -> list[tuple[OdmEvent, list[StagedDataset]]]:
    by_oid: dict[str, tuple[OdmEvent, list[StagedDataset]]] = {}
    for item in staged:
        binding = item.dataset.odm
        assert binding is not None
        events = [binding.event] if binding.event else list(binding.events_by_value.values())
        for event in events:
            assert event is not None
            by_oid.setdefault(event.oid, (event, []))[1].append(item)
    return sorted(by_oid.values(), key=lambda pair: pair[0].order)


def _metadata(out: _Writer, staged: list[StagedDataset], *, blinded: bool) -> None:
    out.start("MetaDataVersion", {"OID": "MDV.1", "Name": _version_name(blinded)})
    events = _events(staged)
    out.start("Protocol")
    for number, (event, _) in enumerate(events, start=1):
        out.leaf(
            "StudyEventRef",
            {"StudyEventOID": event.oid, "OrderNumber": str(number), "Mandatory": "No"},
        )
    out.end("Protocol")
    for event, members in events:
        out.start(
            "StudyEventDef",
            {"OID": event.oid, "Name": event.name, "Repeating": "No", "Type": "Scheduled"},
        )
        for number, item in enumerate(members, start=1):
            binding = item.dataset.odm
            assert binding is not None
            out.leaf(
                "FormRef",
                {"FormOID": binding.form_oid, "OrderNumber": str(number), "Mandatory": "No"},
            )
        out.end("StudyEventDef")
    for item in staged:
        binding = item.dataset.odm
        assert binding is not None
        repeating = "Yes" if binding.repeat_column else "No"
        out.start(
            "FormDef",
            {"OID": binding.form_oid, "Name": binding.form_name, "Repeating": repeating},
        )
        out.leaf("ItemGroupRef", {"ItemGroupOID": _group_oid(binding), "Mandatory": "Yes"})
        out.end("FormDef")
    for item in staged:
        binding = item.dataset.odm
        assert binding is not None
        out.start(
            "ItemGroupDef",
            {
                "OID": _group_oid(binding),
                "Name": binding.form_name,
                "Repeating": "No",
            },
        )
        out.translated("Description", item.dataset.label)
        for number, column in enumerate(item_columns(item), start=1):
            attrs = {"ItemOID": item_oid(item, column), "OrderNumber": str(number)}
            attrs["Mandatory"] = "No"
            if column.derivation:
                attrs["MethodOID"] = f"MT.{item_oid(item, column)[2:]}"
            out.leaf("ItemRef", attrs)
        out.leaf("Alias", {"Context": "dataset", "Name": item.name})
        out.end("ItemGroupDef")
    for item in staged:
        for column in item_columns(item):
            _item_def(out, item, column)
    for item in staged:
        for column in item_columns(item):
            if column.value_labels:
                _code_list(out, item, column)
    for item in staged:
        for column in item_columns(item):
            if column.derivation:
                oid = f"MT.{item_oid(item, column)[2:]}"
                out.start("MethodDef", {"OID": oid, "Name": column.name, "Type": "Computation"})
                out.translated("Description", column.derivation)
                out.end("MethodDef")
    out.end("MetaDataVersion")


def _group_oid(binding: OdmBinding) -> str:
    return f"IG.{form_key(binding)}"


def _version_name(blinded: bool) -> str:
    return "Analysis export, blinded (masked groups)" if blinded else "Analysis export, unblinded"


def _item_def(out: _Writer, item: StagedDataset, column: Column) -> None:
    attrs = {
        "OID": item_oid(item, column),
        "Name": column.name,
        "DataType": ODM_TYPES[column.type],
    }
    out.start("ItemDef", attrs)
    out.translated("Description", column.label)
    if column.minimum is not None or column.maximum is not None:
        for comparator, bound in (("GE", column.minimum), ("LE", column.maximum)):
            if bound is None:
                continue
            out.start("RangeCheck", {"Comparator": comparator, "SoftHard": "Soft"})
            out.leaf("CheckValue", text=_number(bound))
            out.end("RangeCheck")
    if column.value_labels:
        out.leaf("CodeListRef", {"CodeListOID": f"CL.{item_oid(item, column)[2:]}"})
    if column.instrument:
        out.leaf("Alias", {"Context": "instrument", "Name": column.instrument})
    if column.timepoint:
        out.leaf("Alias", {"Context": "timepoints", "Name": column.timepoint})
    for missing in column.missing_codes:
        out.leaf("Alias", {"Context": "missing-code", "Name": f"{missing.code}={missing.reason}"})
    out.end("ItemDef")


def _code_list(out: _Writer, item: StagedDataset, column: Column) -> None:
    out.start(
        "CodeList",
        {
            "OID": f"CL.{item_oid(item, column)[2:]}",
            "Name": column.name,
            "DataType": ODM_TYPES[column.type],
        },
    )
    for value, label in column.value_labels:
        out.start("CodeListItem", {"CodedValue": _number(value)})
        out.translated("Decode", label)
        out.end("CodeListItem")
    out.end("CodeList")


def _rows(index: int, staged: StagedDataset) -> Iterator[tuple[Any, ...]]:
    binding = staged.dataset.odm
    assert binding is not None
    names = [c.name for c in staged.columns]
    subject = names.index(binding.subject_column)
    event_at = names.index(binding.event_column) if binding.event_column else None
    sequence = 0
    for batch in staged.batches():
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        for row in zip(*columns, strict=True):
            event = binding.event if event_at is None else binding.events_by_value[row[event_at]]
            assert event is not None
            sequence += 1
            yield (row[subject], event.order, index, sequence, event, row)


def write(
    staged: list[StagedDataset],
    directory: Path,
    progress: Progress,
    *,
    as_of: datetime | None,
    blinded: bool,
    software_version: str,
) -> WrittenFile:
    staged = [item for item in staged if item.dataset.odm is not None]
    stamp = (as_of or EPOCH).astimezone(UTC).isoformat()
    path = directory / FILE_NAME
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        out = _Writer(handle)
        out.xml.startDocument()
        out.start(
            "ODM",
            {
                "xmlns": ODM_NS,
                "xmlns:imr": EXT_NS,
                "ODMVersion": "1.3.2",
                "FileType": "Snapshot",
                "Granularity": "All",
                "FileOID": f"{STUDY_OID}.{'blinded' if blinded else 'unblinded'}."
                f"{(as_of or EPOCH).astimezone(UTC):%Y%m%dT%H%M%S%f}",
                "CreationDateTime": stamp,
                "AsOfDateTime": stamp,
                "Originator": "IMR trial EDC",
                "SourceSystem": "imrtrial",
                "SourceSystemVersion": software_version,
            },
        )
        out.start("Study", {"OID": STUDY_OID})
        out.start("GlobalVariables")
        out.leaf("StudyName", text=STUDY_OID)
        out.leaf(
            "StudyDescription",
            text="Randomised, assessor-blinded multi-centre trial; analysis datasets exported "
            "from the trial's electronic data capture system.",
        )
        out.leaf("ProtocolName", text=STUDY_OID)
        out.end("GlobalVariables")
        _metadata(out, staged, blinded=blinded)
        out.end("Study")
        _clinical_data(handle, staged, progress)
        out.end("ODM")
        out.xml.ignorableWhitespace("\n")
        out.xml.endDocument()
    rows = sum(item.rows for item in staged)
    return WrittenFile(FILE_NAME, "odm", "data", "", rows, path)


def _attr(text: str) -> str:
    """An attribute value for double quotes (XML 1.0, whitespace kept as character refs)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


@dataclass(frozen=True)
class _FormPlan:
    """What every row of one dataset becomes, worked out once: the hot loop below writes
    ready-made strings (hundreds of megabytes for a large trial)."""

    head: str  # <FormData FormOID="..."
    repeat_at: int | None  # the row position of the FormRepeatKey, if the form repeats
    tail: str  # >, and the ItemGroupData start tag
    closing: str
    items: tuple[tuple[int, str, VarType, frozenset[int]], ...]


def _plan(item: StagedDataset) -> _FormPlan:
    binding = item.dataset.odm
    assert binding is not None
    names = [c.name for c in item.columns]
    indent = "\n" + "  " * 4
    return _FormPlan(
        head=f'{indent}<FormData FormOID="{_attr(binding.form_oid)}"',
        repeat_at=names.index(binding.repeat_column) if binding.repeat_column else None,
        tail=f'>{indent}  <ItemGroupData ItemGroupOID="{_attr(_group_oid(binding))}">',
        closing=f"{indent}  </ItemGroupData>{indent}</FormData>",
        items=tuple(
            (
                names.index(column.name),
                f'{indent}    <ItemData ItemOID="{_attr(item_oid(item, column))}"',
                column.type,
                frozenset(column.missing) if column.type != VarType.TEXT else frozenset(),
            )
            for column in item_columns(item)
        ),
    )


def _clinical_data(handle: Any, staged: list[StagedDataset], progress: Progress) -> None:
    write = handle.write
    reasons = missing_by_code()
    plans = [_plan(item) for item in staged]
    streams = [_rows(index, item) for index, item in enumerate(staged)]
    write(f'\n  <ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="MDV.1">')
    subject: str | None = None
    event_oid: str | None = None
    pending = 0
    for key, _, index, _, event, row in heapq.merge(*streams, key=lambda r: r[:4]):
        parts: list[str] = []
        if key != subject:
            if event_oid is not None:
                parts.append("\n      </StudyEventData>")
            if subject is not None:
                parts.append("\n    </SubjectData>")
            parts.append(f'\n    <SubjectData SubjectKey="{_attr(key)}">')
            subject, event_oid = key, None
        if event.oid != event_oid:
            if event_oid is not None:
                parts.append("\n      </StudyEventData>")
            parts.append(f'\n      <StudyEventData StudyEventOID="{_attr(event.oid)}">')
            event_oid = event.oid
        plan = plans[index]
        parts.append(plan.head)
        if plan.repeat_at is not None:
            parts.append(f' FormRepeatKey="{_attr(str(row[plan.repeat_at]))}"')
        parts.append(plan.tail)
        for position, opening, kind, missing_codes in plan.items:
            value = row[position]
            if value is None or value == "":
                continue  # no value: no ItemData (empty text says nothing either)
            if value in missing_codes:
                missing = reasons[int(value)]
                parts.append(
                    f'{opening} IsNull="Yes" imr:MissingCode="{missing.code}" '
                    f'imr:MissingReason="{missing.reason}"/>'
                )
            elif kind == VarType.TEXT:
                parts.append(f'{opening} Value="{_attr(value)}"/>')
            elif kind == VarType.DECIMAL:
                parts.append(f'{opening} Value="{float(value)!r}"/>')
            else:
                parts.append(f'{opening} Value="{value}"/>')
        parts.append(plan.closing)
        write("".join(parts))
        pending += 1
        if pending >= 5000:
            progress(pending)
            pending = 0
    if event_oid is not None:
        write("\n      </StudyEventData>")
    if subject is not None:
        write("\n    </SubjectData>")
    write("\n  </ClinicalData>")
    progress(pending)
