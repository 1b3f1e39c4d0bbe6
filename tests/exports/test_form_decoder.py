"""The column-by-column decoder of the long response files gives exactly what the form-by-form
decoder gives: the same values, the same first error and the same CPR redactions."""

from __future__ import annotations

from typing import Any

import pytest

from datasets.base import missing_by_reason
from datasets.forms import ExportDataError, FormDecoder, FormRef
from datasets.instruments import catalogue
from datasets.responses import exported_variables

Form = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def decoder(code: str) -> FormDecoder:
    meta = catalogue()[code]
    return FormDecoder(meta, exported_variables(meta))


def refs(code: str, count: int) -> list[FormRef]:
    return [FormRef(code, f"BAL-{n:03d}", "post") for n in range(count)]


def by_form(decode: FormDecoder, forms: list[Form], where: list[FormRef]) -> list[list[Any]]:
    redactions: list[dict[str, Any]] = []
    rows = [
        decode.decode(*form, where=ref, randomized_on=None, redactions=redactions)
        for form, ref in zip(forms, where, strict=True)
    ]
    return [list(column) for column in zip(*rows, strict=True)]


def ymrs_forms() -> list[Form]:
    whole = {f"YMRS_{n}": n % 3 for n in range(1, 12)}
    halves = {**whole, "YMRS_1": 1.5, "YMRS_10": 3.5, "YMRS_5": 8}
    return [
        (whole, {}, {"YMRS_TOTAL": 11}),  # whole numbers in decimal items and the score
        (halves, {}, {"YMRS_TOTAL": 14.0}),
        ({k: v for k, v in whole.items() if k != "YMRS_2"}, {"YMRS_2": "refused"}, {}),
        ({}, {"YMRS_1": "not_answered", "YMRS_5": None}, {"YMRS_TOTAL": None}),
    ]


def test_numbers_and_reasons_are_decoded_as_form_by_form() -> None:
    decode = decoder("YMRS")
    forms = ymrs_forms()
    where = refs("YMRS", len(forms))
    columns = decode.decode_columns(
        forms, where=where, randomized_on=[None] * len(forms), redactions=[]
    )
    assert columns == by_form(decode, forms, where)
    first = [variable.code for variable in decode.variables].index("YMRS_1")
    not_answered = missing_by_reason()["not_answered"].code
    assert columns[first] == [1.0, 1.5, 1.0, not_answered]
    assert all(type(value) is float for value in columns[first][:3])
    second = [variable.code for variable in decode.variables].index("YMRS_2")
    assert columns[second][2] == missing_by_reason()["refused"].code


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"YMRS_5": 9}, "holds 9, which is not within 0–8"),
        ({"YMRS_5": 2.5}, "holds 2.5, which is not a whole number"),
        ({"YMRS_5": True}, "holds True, which is not a number"),
        ({"YMRS_X": 1}, "holds YMRS_X, which the instrument module does not declare"),
    ],
)
def test_the_first_bad_form_in_row_order_is_named(bad: dict[str, Any], message: str) -> None:
    decode = decoder("YMRS")
    forms = ymrs_forms()
    # A later form is bad in another way: the earlier one is the one the error names.
    forms.insert(1, ({**forms[0][0], **bad}, {}, {}))
    forms.append(({"YMRS_1": 7}, {}, {}))
    where = refs("YMRS", len(forms))
    with pytest.raises(ExportDataError) as raised:
        decode.decode_columns(forms, where=where, randomized_on=[None] * len(forms), redactions=[])
    assert message in str(raised.value)
    assert "BAL-001" in str(raised.value)


def test_text_is_decoded_with_the_cpr_numbers_removed_in_row_order() -> None:
    decode = decoder("DEMOG")
    forms: list[Form] = [
        ({"DX_ICD10": "F20.0 (see 010190-1234)", "HOUSING": 1}, {}, {}),
        ({"DX_ICD10": "F31.1"}, {"HOUSING": "refused"}, {}),
        ({"DX_ICD10": "0202021234 F20"}, {}, {}),
    ]
    where = refs("DEMOG", len(forms))
    redactions: list[dict[str, Any]] = []
    columns = decode.decode_columns(
        forms, where=where, randomized_on=[None] * len(forms), redactions=redactions
    )
    assert columns == by_form(decode, forms, where)
    assert [entry["study_id"] for entry in redactions] == ["BAL-000", "BAL-002"]
    text = [variable.code for variable in decode.variables].index("DX_ICD10")
    assert "010190" not in columns[text][0] and columns[text][1] == "F31.1"


def test_an_empty_chunk_gives_empty_columns() -> None:
    decode = decoder("HAMD6")
    assert decode.decode_columns([], where=[], randomized_on=[], redactions=[]) == [
        [] for _ in decode.variables
    ]
