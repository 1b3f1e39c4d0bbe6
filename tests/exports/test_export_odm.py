"""The CDISC ODM 1.3.2 file is structurally sound: every OID it refers to is defined, every
definition is used, every ItemData has its ItemDef in the ItemGroupDef of its form, coded values
are in their code lists, forms sit in the study events of their instrument's timepoints, and
the metadata is the instrument modules' (labels, ranges, code lists)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import pytest

from instruments import metadata, registry
from tests.exports import readback
from tests.exports.conftest import LockedExports

pytestmark = pytest.mark.django_db

ODM = readback.ODM
EXT = readback.EXT
# ODM 1.3.2 schema: the order of MetaDataVersion's children.
METADATA_ORDER = ["Protocol", "StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList"]
METADATA_ORDER += ["MethodDef"]


def tag(element: ET.Element) -> str:
    return element.tag.removeprefix(ODM)


def defs(version: ET.Element, name: str) -> dict[str, ET.Element]:
    found = [e for e in version if tag(e) == name]
    oids = [e.get("OID") for e in found]
    assert len(oids) == len(set(oids)), f"duplicate {name} OIDs"
    return dict(zip(oids, found, strict=True))


def refs(element: ET.Element, name: str, attribute: str) -> list[str]:
    return [r.get(attribute) for r in element if tag(r) == name]


@pytest.fixture(params=["blinded", "unblinded"])
def odm(request: Any, locked_exports: LockedExports) -> ET.Element:
    job = (locked_exports.blinded if request.param == "blinded" else locked_exports.unblinded)[0]
    return readback.read_odm(locked_exports.folder(job) / "odm.xml")


def test_the_metadata_is_complete_and_every_reference_resolves(odm: ET.Element) -> None:
    assert (odm.get("ODMVersion"), odm.get("FileType")) == ("1.3.2", "Snapshot")
    study = odm.find(f"{ODM}Study")
    version = study.find(f"{ODM}MetaDataVersion")
    order = [METADATA_ORDER.index(tag(e)) for e in version]
    assert order == sorted(order), "MetaDataVersion children out of the schema's order"
    events = defs(version, "StudyEventDef")
    forms = defs(version, "FormDef")
    groups = defs(version, "ItemGroupDef")
    items = defs(version, "ItemDef")
    code_lists = defs(version, "CodeList")
    methods = defs(version, "MethodDef")
    protocol = version.find(f"{ODM}Protocol")
    assert set(refs(protocol, "StudyEventRef", "StudyEventOID")) == set(events)
    used_forms = [oid for e in events.values() for oid in refs(e, "FormRef", "FormOID")]
    assert set(used_forms) == set(forms)
    used_groups = [oid for f in forms.values() for oid in refs(f, "ItemGroupRef", "ItemGroupOID")]
    assert sorted(used_groups) == sorted(groups)
    item_refs = [r for g in groups.values() for r in g if tag(r) == "ItemRef"]
    assert sorted(r.get("ItemOID") for r in item_refs) == sorted(items)
    assert {r.get("MethodOID") for r in item_refs if r.get("MethodOID")} == set(methods)
    used_lists = {
        c.get("CodeListOID") for i in items.values() for c in i if tag(c) == "CodeListRef"
    }
    assert used_lists == set(code_lists)
    for item in items.values():
        assert item.get("DataType") in ("integer", "float", "text")
        assert item.find(f"{ODM}Description/{ODM}TranslatedText").text


def test_every_clinical_datum_has_its_definitions(odm: ET.Element) -> None:
    study = odm.find(f"{ODM}Study")
    version = study.find(f"{ODM}MetaDataVersion")
    events = defs(version, "StudyEventDef")
    forms = defs(version, "FormDef")
    groups = defs(version, "ItemGroupDef")
    items = defs(version, "ItemDef")
    code_lists = defs(version, "CodeList")
    coded = {
        oid: {i.get("CodedValue") for i in code_lists[c.get("CodeListOID")]}
        for oid, item in items.items()
        for c in item
        if tag(c) == "CodeListRef"
    }
    clinical = odm.find(f"{ODM}ClinicalData")
    assert clinical.get("StudyOID") == study.get("OID")
    assert clinical.get("MetaDataVersionOID") == version.get("OID")
    subjects = [s.get("SubjectKey") for s in clinical]
    assert len(subjects) == len(set(subjects)) and subjects == sorted(subjects)
    data = 0
    for subject in clinical:
        seen_events = [e.get("StudyEventOID") for e in subject]
        assert len(seen_events) == len(set(seen_events))
        for event in subject:
            allowed_forms = refs(events[event.get("StudyEventOID")], "FormRef", "FormOID")
            keys = Counter()
            for form in event:
                oid = form.get("FormOID")
                assert oid in allowed_forms
                repeating = forms[oid].get("Repeating") == "Yes"
                assert (form.get("FormRepeatKey") is not None) == repeating
                keys[(oid, form.get("FormRepeatKey"))] += 1
                for group in form:
                    group_oid = group.get("ItemGroupOID")
                    assert group_oid in refs(forms[oid], "ItemGroupRef", "ItemGroupOID")
                    allowed_items = refs(groups[group_oid], "ItemRef", "ItemOID")
                    for datum in group:
                        data += 1
                        item_oid = datum.get("ItemOID")
                        assert item_oid in allowed_items
                        kind = items[item_oid].get("DataType")
                        if datum.get("IsNull") == "Yes":
                            assert datum.get("Value") is None
                            code = int(datum.get(f"{EXT}MissingCode"))
                            reason = datum.get(f"{EXT}MissingReason")
                            assert metadata.MISSING_CODES[reason] == code
                            continue
                        value = datum.get("Value")
                        {"integer": int, "float": float, "text": str}[kind](value)
                        if item_oid in coded:
                            assert value in coded[item_oid], (item_oid, value)
            assert max(keys.values()) == 1, "a form repeated without distinct repeat keys"
    assert data > 500


def test_study_events_hold_the_forms_of_their_timepoints_as_the_modules_say(
    odm: ET.Element,
) -> None:
    version = odm.find(f"{ODM}Study/{ODM}MetaDataVersion")
    events = defs(version, "StudyEventDef")
    assert {
        oid: e.get("Name") for oid, e in events.items() if oid in ("SE.T0", "SE.T1", "SE.T2")
    } == {
        "SE.T0": "Baseline (T0)",
        "SE.T1": "Post-intervention (T1)",
        "SE.T2": "One-year follow-up (T2)",
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
    odm: ET.Element,
) -> None:
    version = odm.find(f"{ODM}Study/{ODM}MetaDataVersion")
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
            assert item.find(f"{ODM}Description/{ODM}TranslatedText").text == variable.label
            checks = {
                c.get("Comparator"): float(c.find(f"{ODM}CheckValue").text)
                for c in item
                if tag(c) == "RangeCheck"
            }
            if variable.min is not None:
                assert checks["GE"] == variable.min
            if variable.max is not None:
                assert checks["LE"] == variable.max
            if variable.value_labels:
                code_list = code_lists[item.find(f"{ODM}CodeListRef").get("CodeListOID")]
                decoded = {
                    float(i.get("CodedValue")): i.find(f"{ODM}Decode/{ODM}TranslatedText").text
                    for i in code_list
                }
                assert decoded == {float(k): v for k, v in variable.value_labels.items()}
