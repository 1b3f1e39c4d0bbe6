"""The CDISC ODM 1.3.2 file validates against the official schema (the XSD odmlib ships) and is
structurally sound: every OID it refers to is defined, every
definition is used, every ItemData has its ItemDef in the ItemGroupDef of its form, coded values
are in their code lists, forms sit in the study events of their instrument's timepoints, and
the metadata is the instrument modules' (labels, ranges, code lists)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import odmlib
import pytest
from lxml import etree

from instruments import metadata, registry
from tests.exports import readback
from tests.exports.locked.conftest import LockedExports
from tests.exports.readback import attr, one, text

pytestmark = pytest.mark.django_db

ODM = readback.ODM
SCHEMA = Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
# ODM 1.3.2 schema: the order of MetaDataVersion's children.
METADATA_ORDER = ["Protocol", "StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList"]
METADATA_ORDER += ["MethodDef"]


# The parsed tree is read as Any: the tests assert what is present (a missing element fails the
# test at once), where ElementTree's Optional results would need a check at every step.
def tag(element: Any) -> str:
    return element.tag.removeprefix(ODM)


def defs(version: Any, name: str) -> dict[str, Any]:
    found = [e for e in version if tag(e) == name]
    oids = [attr(e, "OID") for e in found]
    assert len(oids) == len(set(oids)), f"duplicate {name} OIDs"
    return dict(zip(oids, found, strict=True))


def refs(element: Any, name: str, attribute: str) -> list[str]:
    return [r.get(attribute) for r in element if tag(r) == name]


@pytest.fixture(params=["blinded", "unblinded"])
def odm(request: Any, locked_exports: LockedExports) -> Any:
    job = (locked_exports.blinded if request.param == "blinded" else locked_exports.unblinded)[0]
    return readback.read_odm(locked_exports.folder(job) / "odm.xml")


@cache
def odm_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def schema_errors(path: Path) -> list[str]:
    schema = odm_schema()
    if schema.validate(etree.parse(str(path))):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log][:20]


@pytest.mark.parametrize("kind", ["blinded", "unblinded"])
@pytest.mark.parametrize("name", ["odm.xml", "odm_define.xml"])
def test_the_files_validate_against_the_cdisc_odm_1_3_2_schema(
    locked_exports: LockedExports, kind: str, name: str
) -> None:
    job = getattr(locked_exports, kind)[0]
    assert schema_errors(locked_exports.folder(job) / name) == []


def test_the_schema_check_finds_a_vendor_attribute(
    locked_exports: LockedExports, tmp_path: Path
) -> None:
    """The check above can fail: an attribute of a namespace of our own is refused."""
    source = locked_exports.folder(locked_exports.blinded[0]) / "odm.xml"
    text = source.read_text(encoding="utf-8")
    broken = tmp_path / "odm.xml"
    broken.write_text(
        text.replace(' IsNull="Yes">', ' IsNull="Yes" xmlns:imr="urn:x" imr:Reason="r">', 1),
        encoding="utf-8",
    )
    assert any("imr" in error or "urn:x" in error for error in schema_errors(broken))


def test_the_define_file_is_the_metadata_of_the_data_file(locked_exports: LockedExports) -> None:
    folder = locked_exports.folder(locked_exports.unblinded[0])
    data: Any = readback.read_odm(folder / "odm.xml")
    define: Any = readback.read_odm(folder / "odm_define.xml")
    assert define.find(f"{ODM}ClinicalData") is None
    assert define.get("Granularity") == "Metadata"
    studies = [one(root, f"{ODM}Study") for root in (define, data)]
    for study in studies:
        study.tail = None  # what follows the element is not part of it
    assert ET.tostring(studies[0]) == ET.tostring(studies[1])


def test_the_file_times_are_the_lock_time_of_a_locked_database(
    locked_exports: LockedExports,
) -> None:
    for job in locked_exports.blinded + locked_exports.unblinded:
        root: Any = readback.read_odm(locked_exports.folder(job) / "odm.xml")
        assert job.lock is not None and job.lock_level == "lock"
        # The data was locked once: its first lock is the job's lock.
        expected = job.lock.set_at.isoformat()
        assert (root.get("CreationDateTime"), root.get("AsOfDateTime")) == (expected, expected)
        assert not expected.startswith("1970")


def test_the_metadata_is_complete_and_every_reference_resolves(odm: Any) -> None:
    assert (odm.get("ODMVersion"), odm.get("FileType")) == ("1.3.2", "Snapshot")
    study = one(odm, f"{ODM}Study")
    version = one(study, f"{ODM}MetaDataVersion")
    order = [METADATA_ORDER.index(tag(e)) for e in version]
    assert order == sorted(order), "MetaDataVersion children out of the schema's order"
    events = defs(version, "StudyEventDef")
    forms = defs(version, "FormDef")
    groups = defs(version, "ItemGroupDef")
    items = defs(version, "ItemDef")
    code_lists = defs(version, "CodeList")
    methods = defs(version, "MethodDef")
    protocol = one(version, f"{ODM}Protocol")
    assert set(refs(protocol, "StudyEventRef", "StudyEventOID")) == set(events)
    used_forms = [oid for e in events.values() for oid in refs(e, "FormRef", "FormOID")]
    assert set(used_forms) == set(forms)
    used_groups = [oid for f in forms.values() for oid in refs(f, "ItemGroupRef", "ItemGroupOID")]
    assert sorted(used_groups) == sorted(groups)
    item_refs = [r for g in groups.values() for r in g if tag(r) == "ItemRef"]
    assert sorted(attr(r, "ItemOID") for r in item_refs) == sorted(items)
    assert {r.get("MethodOID") for r in item_refs if r.get("MethodOID")} == set(methods)
    used_lists = {
        c.get("CodeListOID") for i in items.values() for c in i if tag(c) == "CodeListRef"
    }
    # CL.MISSING decodes the reasons of null items (the FlagValue of their annotation).
    assert used_lists | {"CL.MISSING"} == set(code_lists)
    for item in items.values():
        contexts = [a.get("Context") for a in item if tag(a) == "Alias"]
        assert len(contexts) == len(set(contexts)), item.get("OID")
    for item in items.values():
        assert item.get("DataType") in ("integer", "float", "text")
        assert text(item, f"{ODM}Description/{ODM}TranslatedText")


def test_every_clinical_datum_has_its_definitions(odm: Any) -> None:
    study = odm.find(f"{ODM}Study")
    version = study.find(f"{ODM}MetaDataVersion")
    events = defs(version, "StudyEventDef")
    forms = defs(version, "FormDef")
    groups = defs(version, "ItemGroupDef")
    items = defs(version, "ItemDef")
    code_lists = defs(version, "CodeList")
    coded = {
        oid: {i.get("CodedValue") for i in code_lists[attr(c, "CodeListOID")]}
        for oid, item in items.items()
        for c in item
        if tag(c) == "CodeListRef"
    }
    clinical = one(odm, f"{ODM}ClinicalData")
    assert clinical.get("StudyOID") == study.get("OID")
    assert clinical.get("MetaDataVersionOID") == version.get("OID")
    subjects = [attr(s, "SubjectKey") for s in clinical]
    assert len(subjects) == len(set(subjects)) and subjects == sorted(subjects)
    data = 0
    for subject in clinical:
        seen_events = [e.get("StudyEventOID") for e in subject]
        assert len(seen_events) == len(set(seen_events))
        for event in subject:
            allowed_forms = refs(events[attr(event, "StudyEventOID")], "FormRef", "FormOID")
            keys: Counter[tuple[str, str | None]] = Counter()
            for form in event:
                oid = attr(form, "FormOID")
                assert oid in allowed_forms
                repeating = forms[oid].get("Repeating") == "Yes"
                assert (form.get("FormRepeatKey") is not None) == repeating
                keys[(oid, form.get("FormRepeatKey"))] += 1
                for group in form:
                    group_oid = attr(group, "ItemGroupOID")
                    assert group_oid in refs(forms[oid], "ItemGroupRef", "ItemGroupOID")
                    allowed_items = refs(groups[group_oid], "ItemRef", "ItemOID")
                    for datum in group:
                        data += 1
                        item_oid = attr(datum, "ItemOID")
                        assert item_oid in allowed_items
                        kind = attr(items[item_oid], "DataType")
                        if datum.get("IsNull") == "Yes":
                            assert datum.get("Value") is None
                            code = readback.odm_missing_code(datum)
                            assert code in metadata.MISSING_CODES.values()
                            alias = one(items[item_oid], f"{ODM}Alias[@Context='missing-codes']")
                            assert str(code) in attr(alias, "Name").split()
                            continue
                        value = datum.get("Value")
                        {"integer": int, "float": float, "text": str}[kind](value)
                        if item_oid in coded:
                            assert value in coded[item_oid], (item_oid, value)
            assert max(keys.values()) == 1, "a form repeated without distinct repeat keys"
    assert data > 500


def test_study_events_hold_the_forms_of_their_timepoints_as_the_modules_say(
    odm: Any,
) -> None:
    version = one(odm, f"{ODM}Study/{ODM}MetaDataVersion")
    events = defs(version, "StudyEventDef")
    assert {
        oid: e.get("Name") for oid, e in events.items() if oid in ("SE.T0", "SE.T1", "SE.T2")
    } == {
        "SE.T0": "Baseline (before randomisation)",
        "SE.T1": "Post-intervention (9 months after randomisation, window 8–11)",
        "SE.T2": "One-year follow-up (21 months after randomisation, window 19–24)",
    }
    forms_by_event = {oid: set(refs(e, "FormRef", "FormOID")) for oid, e in events.items()}
    present = {oid for forms in forms_by_event.values() for oid in forms}
    for instrument in registry.forms():
        oid = f"F.{instrument.code}"
        if oid not in present:
            assert instrument.code == "IMRS_C"  # only in unblinded exports
            continue
        names = {"baseline": "SE.T0", "post": "SE.T1", "followup": "SE.T2"}
        wanted = {names[tp] for tp in instrument.timepoints}
        assert {e for e, forms in forms_by_event.items() if oid in forms} == wanted


def test_item_definitions_and_code_lists_come_from_the_instrument_modules(
    odm: Any,
) -> None:
    version = one(odm, f"{ODM}Study/{ODM}MetaDataVersion")
    items = defs(version, "ItemDef")
    code_lists = defs(version, "CodeList")
    for instrument in registry.forms():
        if f"I.{instrument.code}.{instrument.items[-1].code}" not in items and (
            instrument.code == "IMRS_C"
        ):
            continue
        for variable in metadata.variables(instrument):
            if variable.kind == "derived":
                continue
            item = items[f"I.{instrument.code}.{variable.code}"]
            assert text(item, f"{ODM}Description/{ODM}TranslatedText") == variable.label
            checks = {
                c.get("Comparator"): float(text(c, f"{ODM}CheckValue"))
                for c in item
                if tag(c) == "RangeCheck"
            }
            if variable.min is not None:
                assert checks["GE"] == variable.min
            if variable.max is not None:
                assert checks["LE"] == variable.max
            if variable.value_labels:
                code_list = code_lists[attr(one(item, f"{ODM}CodeListRef"), "CodeListOID")]
                decoded = {
                    float(attr(i, "CodedValue")): text(i, f"{ODM}Decode/{ODM}TranslatedText")
                    for i in code_list
                }
                assert decoded == {float(k): v for k, v in variable.value_labels.items()}
