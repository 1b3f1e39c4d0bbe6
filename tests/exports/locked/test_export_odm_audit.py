"""ODM AuditRecords (export option odm_audit_records): every item value of the forms carries who
last set it, when and why, the users and sites they name are declared in AdminData, and the
file still validates against the CDISC ODM 1.3.2 schema."""

from __future__ import annotations

from typing import Any

import pytest

from tests.exports import readback
from tests.exports.locked.conftest import LockedExports
from tests.exports.locked.test_export_odm import schema_errors
from tests.exports.readback import attr, one, text

pytestmark = pytest.mark.django_db

ODM = readback.ODM


def test_every_form_item_value_carries_its_audit_record_and_the_file_validates(
    locked_exports: LockedExports,
) -> None:
    path = locked_exports.folder(locked_exports.audited) / "odm.xml"
    assert schema_errors(path) == []
    root: Any = readback.read_odm(path)
    admin = root.find(f"{ODM}AdminData")
    users = {u.get("OID") for u in admin.iter(f"{ODM}User")}
    locations = {loc.get("OID") for loc in admin.iter(f"{ODM}Location")}
    audited = 0
    for form in root.iter(f"{ODM}FormData"):
        if form.get("FormOID") not in ("F.PANSS", "F.GAF", "F.IMRS_P"):
            continue
        for item in form.iter(f"{ODM}ItemData"):
            record = item.find(f"{ODM}AuditRecord")
            assert record is not None, item.attrib
            assert attr(one(record, f"{ODM}UserRef"), "UserOID") in users
            assert attr(one(record, f"{ODM}LocationRef"), "LocationOID") in locations
            assert text(record, f"{ODM}DateTimeStamp")
            audited += 1
    assert audited > 100
    # Without the option there is none.
    plain: Any = readback.read_odm(locked_exports.folder(locked_exports.unblinded[0]) / "odm.xml")
    assert plain.find(f"{ODM}AdminData") is None
    assert next(plain.iter(f"{ODM}AuditRecord"), None) is None
