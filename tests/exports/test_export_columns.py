"""The rules every column of every dataset obeys, whatever a module or a builder declares."""

from __future__ import annotations

import pytest

from datasets.base import Column, VarType
from datasets.instruments import catalogue, missing_reasons
from datasets.wide import NAME_LIMIT, shorten
from instruments import metadata, registry


@pytest.mark.parametrize("name", ["CPR", "DOB", "DATE_OF_BIRTH", "NAME", "cpr_number"])
def test_no_column_of_an_identifying_name_can_be_made(name: str) -> None:
    with pytest.raises(ValueError, match="identifies a person"):
        Column(name, "x", VarType.TEXT)


def test_missing_codes_are_refused_on_a_variable_whose_values_could_be_negative() -> None:
    codes = tuple(m.code for m in missing_reasons())
    with pytest.raises(ValueError, match="all above them"):
        Column("ASSESS_DAY", "days", VarType.INTEGER, missing=codes)
    with pytest.raises(ValueError, match="all above them"):
        Column("CHANGE", "change", VarType.INTEGER, missing=codes, minimum=-10)
    with pytest.raises(ValueError, match="text"):
        Column("NOTE", "note", VarType.TEXT, missing=codes)
    Column("P1", "delusions", VarType.INTEGER, missing=codes, minimum=1)


def test_the_missing_reasons_and_codes_are_the_assessments_apps() -> None:
    reasons = missing_reasons()
    assert {m.reason: m.code for m in reasons} == dict(metadata.MISSING_CODES)
    assert {m.reason: f".{m.stata}" for m in reasons} == dict(metadata.STATA_MISSING)


def test_every_exported_variable_of_every_instrument_fits_the_missing_codes() -> None:
    """Each item and score's lowest valid value is above the codes, so a code is never a
    value (the Column check would refuse the export otherwise)."""
    from datasets.forms import variable_column

    for meta in catalogue().values():
        for variable in meta.variables:
            if variable.kind == "derived":
                continue
            column = variable_column(meta, variable)
            if column.missing:
                assert column.minimum is not None and column.minimum >= 0, variable.code


def test_wide_names_keep_the_timepoint_and_stay_within_statas_limit() -> None:
    taken: set[str] = set()
    assert shorten("GAF_F", "T1", taken) == "GAF_F_T1"
    long_code = "A_VERY_LONG_INSTRUMENT_VARIABLE_CODE_TOTAL"
    first = shorten(long_code, "T2", taken)
    second = shorten(long_code + "_PRO", "T2", taken)
    assert len(first) <= NAME_LIMIT and len(second) <= NAME_LIMIT
    assert first.endswith("_T2") and second.endswith("_T2") and first != second
    names = [
        f"{v.code}_T0"
        for i in registry.forms()
        for v in metadata.variables(i)
        if v.kind != "derived"
    ]
    assert max(len(n) for n in names) <= NAME_LIMIT  # no current name needs shortening
