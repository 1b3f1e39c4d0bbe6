"""CDISC ODM 1.3.2 (snapshot) of every dataset in one XML document.

The metadata section is generated from the datasets' column metadata, which comes from the
instrument registry: one StudyEventDef per event (enrolment, T0, T1, T2), one FormDef and
ItemGroupDef per dataset, one ItemDef per variable with its label, a CodeList for value labels
and a MethodDef for each derivation. Clinical data follow subject by subject (study ID), event
by event, merged in one pass over the staged datasets so that memory stays flat.

The file validates against the CDISC ODM 1.3.2 schema and uses no vendor extension. A value
missing with a reason is written as `IsNull="Yes"` with an Annotation whose FlagValue is the
reason's code in the code list CL.MISSING (the same negative codes as in the other formats); a
value missing without a reason is absent. Each ItemDef carries at most one Alias per context
(the codes it may carry are listed in one "missing-codes" alias). Subject-level facts repeated
in every dataset (site, arm or group) and the keys are not repeated as items of each form.

CreationDateTime and AsOfDateTime are real times: when the database is locked, the time this
data was first locked (the earliest lock after its last change, so that the same locked data
gives the same bytes, also after unlocking and locking again without a change); otherwise the
start of the snapshot and the time of the last change to the exported data. `write_define`
writes the study's metadata alone (the MetaDataVersion) as a stand-alone define file."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import XMLGenerator, escape
from xml.sax.xmlreader import AttributesImpl

from datasets.audit import ChangeRecord, FormAudit
from datasets.base import (
    Column,
    OdmBinding,
    OdmEvent,
    VarType,
    missing_by_code,
    missing_codes,
)
from exports.writers.base import Progress, StagedDataset, WrittenFile

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = "NCT01361698"
FILE_NAME = "odm.xml"
DEFINE_NAME = "odm_define.xml"
MISSING_LIST = "CL.MISSING"
SYSTEM_USER = "USR.SYSTEM"  # changes made by the system itself (no user in the audit context)
UNKNOWN_LOCATION = "LOC.UNKNOWN"
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
    """MetaDataVersion, its children in the schema's order."""
    out.start("MetaDataVersion", {"OID": "MDV.1", "Name": _version_name(blinded)})
    _protocol_and_events(out, staged)
    _forms_and_groups(out, staged)
    for item in staged:
        for column in item_columns(item):
            _item_def(out, item, column)
    for item in staged:
        for column in item_columns(item):
            if column.value_labels:
                _code_list(out, item, column)
    if any(column.missing for item in staged for column in item_columns(item)):
        _missing_code_list(out)
    for item in staged:
        for column in item_columns(item):
            if column.derivation:
                oid = f"MT.{item_oid(item, column)[2:]}"
                out.start("MethodDef", {"OID": oid, "Name": column.name, "Type": "Computation"})
                out.translated("Description", column.derivation)
                out.end("MethodDef")
    out.end("MetaDataVersion")


def _binding(item: StagedDataset) -> OdmBinding:
    binding = item.dataset.odm
    assert binding is not None
    return binding


def _protocol_and_events(out: _Writer, staged: list[StagedDataset]) -> None:
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
            out.leaf(
                "FormRef",
                {
                    "FormOID": _binding(item).form_oid,
                    "OrderNumber": str(number),
                    "Mandatory": "No",
                },
            )
        out.end("StudyEventDef")


def _forms_and_groups(out: _Writer, staged: list[StagedDataset]) -> None:
    for item in staged:
        binding = _binding(item)
        repeating = "Yes" if binding.repeat_column else "No"
        out.start(
            "FormDef",
            {"OID": binding.form_oid, "Name": binding.form_name, "Repeating": repeating},
        )
        out.leaf("ItemGroupRef", {"ItemGroupOID": _group_oid(binding), "Mandatory": "Yes"})
        out.end("FormDef")
    for item in staged:
        binding = _binding(item)
        out.start(
            "ItemGroupDef",
            {"OID": _group_oid(binding), "Name": binding.form_name, "Repeating": "No"},
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
    if column.missing:
        # One Alias per context (the schema's rule): the codes this item may carry, which
        # CL.MISSING decodes.
        codes = " ".join(str(code) for code in column.missing)
        out.leaf("Alias", {"Context": "missing-codes", "Name": codes})
    out.end("ItemDef")


def _missing_code_list(out: _Writer) -> None:
    """The reasons a value is missing, by code: what the FlagValue of a null item refers to."""
    out.start(
        "CodeList", {"OID": MISSING_LIST, "Name": "Missing-value reasons", "DataType": "integer"}
    )
    for missing in missing_codes():
        out.start("CodeListItem", {"CodedValue": str(missing.code)})
        out.translated("Decode", missing.label)
        out.leaf("Alias", {"Context": "reason", "Name": missing.reason})
        out.end("CodeListItem")
    out.end("CodeList")


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


def header_times(
    *, lock_set_at: datetime | None, snapshot_at: datetime, as_of: datetime | None
) -> tuple[datetime, datetime]:
    """(CreationDateTime, AsOfDateTime): the lock time for a locked database, so that the
    same locked data gives the same file; otherwise when the snapshot was taken and when the
    exported data last changed."""
    if lock_set_at is not None:
        return lock_set_at, lock_set_at
    return snapshot_at, as_of or snapshot_at


def _open_odm(
    out: _Writer, *, kind: str, created: datetime, as_of: datetime | None, blinded: bool,
    software_version: str,
) -> None:  # fmt: skip
    attrs = {
        "xmlns": ODM_NS,
        "ODMVersion": "1.3.2",
        "FileType": "Snapshot",
        "Granularity": "All" if kind == "data" else "Metadata",
        "FileOID": f"{STUDY_OID}.{kind}.{'blinded' if blinded else 'unblinded'}."
        f"{created.astimezone(UTC):%Y%m%dT%H%M%S%f}",
        "CreationDateTime": created.astimezone(UTC).isoformat(),
    }
    if as_of is not None:
        attrs["AsOfDateTime"] = as_of.astimezone(UTC).isoformat()
    attrs |= {
        "Originator": "IMR trial EDC",
        "SourceSystem": "imrtrial",
        "SourceSystemVersion": software_version,
    }
    out.start("ODM", attrs)
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


def write(
    staged: list[StagedDataset],
    directory: Path,
    progress: Progress,
    *,
    created: datetime,
    as_of: datetime | None,
    blinded: bool,
    software_version: str,
    audit: FormAudit | None = None,
) -> WrittenFile:
    """The ODM file; with `audit`, an AuditRecord (who, when, why) in every item value of the
    forms (and the AdminData of the users and sites they name)."""
    staged = [item for item in staged if item.dataset.odm is not None]
    path = directory / FILE_NAME
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        out = _Writer(handle)
        out.xml.startDocument()
        _open_odm(
            out, kind="data", created=created, as_of=as_of, blinded=blinded,
            software_version=software_version,
        )  # fmt: skip
        _metadata(out, staged, blinded=blinded)
        out.end("Study")
        if audit is not None:
            _admin_data(out, staged, audit, created)
        _clinical_data(handle, staged, progress, audit)
        out.end("ODM")
        out.xml.ignorableWhitespace("\n")
        out.xml.endDocument()
    rows = sum(item.rows for item in staged)
    return WrittenFile(FILE_NAME, "odm", "data", "", rows, path)


def write_define(
    staged: list[StagedDataset],
    directory: Path,
    *,
    created: datetime,
    blinded: bool,
    software_version: str,
) -> WrittenFile:
    """The study's metadata alone (Study/MetaDataVersion, no clinical data): the define file
    a receiving system loads before the data, or reads to know the variables."""
    staged = [item for item in staged if item.dataset.odm is not None]
    path = directory / DEFINE_NAME
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        out = _Writer(handle)
        out.xml.startDocument()
        _open_odm(
            out, kind="define", created=created, as_of=None, blinded=blinded,
            software_version=software_version,
        )  # fmt: skip
        _metadata(out, staged, blinded=blinded)
        out.end("Study")
        out.end("ODM")
        out.xml.ignorableWhitespace("\n")
        out.xml.endDocument()
    variables = sum(len(item_columns(item)) for item in staged)
    return WrittenFile(DEFINE_NAME, "odm", "metadata", "", variables, path)


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
    items: tuple[tuple[int, str, VarType, frozenset[int], str], ...]
    # For AuditRecords: the form's instrument and where the row holds the subject and the
    # timepoint (None for a dataset that is not made of forms).
    instrument: str | None = None
    subject_at: int = 0
    timepoint_at: int | None = None
    site_at: int | None = None


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
                column.source or column.name,
            )
            for column in item_columns(item)
        ),
        instrument=form_key(binding) if binding.event_column == "TIMEPOINT" else None,
        subject_at=names.index(binding.subject_column),
        timepoint_at=names.index("TIMEPOINT") if "TIMEPOINT" in names else None,
        site_at=names.index("SITE") if "SITE" in names else None,
    )


def _audit_record(record: ChangeRecord, site: Any) -> str:
    user = f"USR.{record.user_id}" if record.user_id is not None else SYSTEM_USER
    location = f"LOC.{site}" if site is not None else UNKNOWN_LOCATION
    parts = [
        f'<AuditRecord><UserRef UserOID="{user}"/><LocationRef LocationOID="{location}"/>'
        f"<DateTimeStamp>{record.at.astimezone(UTC).isoformat()}</DateTimeStamp>"
    ]
    if record.reason:
        parts.append(f"<ReasonForChange>{escape(record.reason)}</ReasonForChange>")
    parts.append("</AuditRecord>")
    return "".join(parts)


def _admin_data(
    out: _Writer, staged: list[StagedDataset], audit: FormAudit, created: datetime
) -> None:
    """The users and locations the AuditRecords refer to: users by number only, the sites."""
    users = sorted(
        {r.user_id for forms in audit.values() for r in forms.values() if r.user_id is not None}
    )
    sites: list[int | float] = []
    for item in staged:
        for column in item.columns:
            if column.name == "SITE" and not sites:
                sites = [value for value, _ in column.value_labels]
    out.start("AdminData")
    for user in users:
        out.leaf("User", {"OID": f"USR.{user}"})
    out.leaf("User", {"OID": SYSTEM_USER, "UserType": "Other"})
    locations = [(f"LOC.{_number(site)}", f"Site {_number(site)}") for site in sites]
    locations.append((UNKNOWN_LOCATION, "Unknown"))
    for oid, name in locations:
        out.start("Location", {"OID": oid, "Name": name, "LocationType": "Site"})
        out.leaf(
            "MetaDataVersionRef",
            {
                "StudyOID": STUDY_OID,
                "MetaDataVersionOID": "MDV.1",
                "EffectiveDate": created.astimezone(UTC).date().isoformat(),
            },
        )
        out.end("Location")
    out.end("AdminData")


def _changes(
    plan: _FormPlan, row: tuple[Any, ...], audit: FormAudit | None
) -> dict[str, ChangeRecord]:
    """The audit records of the form in this row, by variable (none without the option or
    for a dataset that is not made of forms)."""
    if audit is None or plan.instrument is None or plan.timepoint_at is None:
        return {}
    return audit.get((row[plan.subject_at], plan.instrument, row[plan.timepoint_at]), {})


def _items(
    plan: _FormPlan,
    row: tuple[Any, ...],
    null_items: dict[int, str],
    changes: dict[str, ChangeRecord],
) -> list[str]:
    """The ItemData of one form: a value, or a null with its reason; with its audit record."""
    parts: list[str] = []
    site = _number(row[plan.site_at]) if plan.site_at is not None else None
    for position, opening, kind, codes, source in plan.items:
        value = row[position]
        if value is None or value == "":
            continue  # no value: no ItemData (empty text says nothing either)
        change = changes.get(source)
        record = _audit_record(change, site) if change is not None else ""
        if value in codes:
            null = null_items[int(value)]
            parts.append(opening + null.replace("><Annotation", ">" + record + "<Annotation", 1))
            continue
        if kind == VarType.TEXT:
            attribute = f' Value="{_attr(value)}"'
        elif kind == VarType.DECIMAL:
            attribute = f' Value="{float(value)!r}"'
        else:
            attribute = f' Value="{value}"'
        if record:
            parts.append(f"{opening}{attribute}>{record}</ItemData>")
        else:
            parts.append(f"{opening}{attribute}/>")
    return parts


def _clinical_data(
    handle: Any, staged: list[StagedDataset], progress: Progress, audit: FormAudit | None = None
) -> None:
    write = handle.write
    # What follows the opening of a null item: its reason, the code in CL.MISSING, as the
    # flag of an annotation.
    null_items = {
        code: f' IsNull="Yes"><Annotation SeqNum="1"><Flag>'
        f'<FlagValue CodeListOID="{MISSING_LIST}">{code}</FlagValue></Flag></Annotation>'
        "</ItemData>"
        for code in missing_by_code()
    }
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
        parts += _items(plan, row, null_items, _changes(plan, row, audit))
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
