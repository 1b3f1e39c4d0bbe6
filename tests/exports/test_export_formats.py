"""Every format read back with the statisticians' own tools equals the database: CSV, SPSS,
Stata, Parquet and CDISC ODM, with labels, value labels and missing-value codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from exports.services import masking_key_get_or_create, masking_mapping
from imrtrial.roles import Role
from tests.exports import expected, readback
from tests.exports.trial import Trial, build_trial, new_job, run_inline
from tests.factories import make_staff

RESPONSE_VARIABLES = {
    "PANSS": [("P1", "items", "P1"), ("P2", "items", "P2"), ("P7", "items", "P7"),
              ("P10x", "items", "P10x"), ("PANSS_P", "scores", "PANSS_P")],
    "GAF": [("GAF_F", "items", "GAF_F"), ("GAF_S", "items", "GAF_S"),
            ("GAF_F_SCORE", "scores", "GAF_F"), ("GAF_MIN", "scores", "GAF_MIN"),
            ("GAF_S_SCORE", "scores", "GAF_S")],
    "YMRS": [("YMRS_1", "items", "YMRS_1"), ("YMRS_2", "items", "YMRS_2"),
             ("YMRS_5", "items", "YMRS_5"), ("YMRS_TOTAL", "scores", "YMRS_TOTAL")],
    "DEMOG": [("DX_ICD10", "items", "DX_ICD10"), ("HOUSING", "items", "HOUSING"),
              ("NOTE", "items", "NOTE"), ("ONSET", "items", "ONSET")],
}  # fmt: skip
# The data are made once per module (below); each test only reads. The mark makes
# pytest-django set up the test database, which the module fixture then fills.
pytestmark = pytest.mark.django_db

REASON_CODES = {"refused": -992, "insufficient information": -994}
KEYS = ["STUDY_ID", "SITE", "GROUP", "TIMEPOINT", "FORM_STATUS", "ASSESS_DAY"]


@pytest.fixture(scope="module")
def export(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One trial and one blinded export for the whole module (the tests only read), with the
    expectations computed from the database before it is emptied again."""
    root = tmp_path_factory.mktemp("formats")
    with django_db_blocker.unblock(), override_settings(EXPORT_ROOT=root):
        assert connection.settings_dict["NAME"].startswith("test_")
        call_command("setup_trial", stdout=StringIO())
        trial = build_trial()
        job = run_inline(new_job(make_staff("dm", Role.DATA_MANAGER)))
        assert job.status == "done", job.error
        masking = masking_mapping(masking_key_get_or_create())
        yield {
            "job": job,
            "dir": root / job.directory,
            "trial": trial,
            "cpr": trial.cpr_numbers(),
            "masking": masking,
            "codebook": readback.read_codebook(root / job.directory / "codebook.csv"),
            "participants": expected.participants_rows(masking),
            "responses": {
                code: expected.response_rows(code, masking) for code in RESPONSE_VARIABLES
            },
        }
        call_command("flush", interactive=False, verbosity=0)


def read_all(export: dict[str, Any], dataset: str) -> dict[str, tuple[list[str], list[dict]]]:
    folder, kinds = export["dir"], readback.kinds_of(export["codebook"], dataset)
    names, csv_rows = readback.read_csv(folder / f"{dataset}.csv", kinds)
    sav_names, sav_rows, _ = readback.read_sav(folder / f"{dataset}.sav", kinds)
    dta_names, dta_rows, _ = readback.read_dta(folder / f"{dataset}.dta", kinds)
    pq_names, pq_rows, _ = readback.read_parquet(folder / f"{dataset}.parquet")
    return {"csv": (names, csv_rows), "sav": (sav_names, sav_rows),
            "dta": (dta_names, dta_rows), "parquet": (pq_names, pq_rows)}  # fmt: skip


def text_as_written(value: Any) -> Any:
    return "" if value is None else value


def test_every_format_reads_back_the_participants_as_in_the_database(
    export: dict[str, Any],
) -> None:
    wanted = export["participants"]
    assert len(wanted) == len(export["trial"].everyone) == 6
    for fmt, (names, rows) in read_all(export, "participants").items():
        assert names == list(wanted[0]), fmt
        normalised = [{k: text_as_written(v) if k == "STUDY_ID" else v for k, v in r.items()}
                      for r in rows]  # fmt: skip
        assert normalised == wanted, fmt

    odm_rows = readback.odm_form_rows(readback.read_odm(export["dir"] / "odm.xml"), "F.PARTICIPANT")
    assert [row.pop("SUBJECT") for row in odm_rows] == [row["STUDY_ID"] for row in wanted]
    assert {row.pop("EVENT") for row in odm_rows} == {"SE.ENROLMENT"}
    assert odm_rows == [{k: v for k, v in row.items() if k != "STUDY_ID"} for row in wanted]


def expected_response(row: dict[str, Any], part: str, code: str) -> Any:
    stored = row[f"_{part}"]
    if code not in stored and code in row["_missing"]:
        return REASON_CODES[row["_missing"][code]]
    value = stored.get(code)
    if code == "ONSET":
        return (date.fromisoformat(value) - row["_day0"]).days
    if code == "NOTE":
        return re.sub(r"\d{6}-\d{4}", "[CPR number removed]", value)
    return value


@pytest.mark.parametrize("instrument", sorted(RESPONSE_VARIABLES))
def test_every_format_reads_back_the_responses_as_stored(
    export: dict[str, Any], instrument: str
) -> None:
    variables = RESPONSE_VARIABLES[instrument]
    wanted = []
    for row in export["responses"][instrument]:
        wanted.append({**{k: row[k] for k in KEYS},
                       **{name: expected_response(row, part, code)
                          for name, part, code in variables}})  # fmt: skip
    assert len(wanted) == (8 if instrument == "PANSS" else 4)
    dataset = f"responses_long_{instrument.lower()}"
    for fmt, (names, rows) in read_all(export, dataset).items():
        assert names == KEYS + [name for name, _, _ in variables], fmt
        assert rows == wanted, fmt

    odm_rows = readback.odm_form_rows(
        readback.read_odm(export["dir"] / "odm.xml"), f"F.{instrument}"
    )
    events = {0: "SE.T0", 1: "SE.T1", 2: "SE.T2"}
    assert [(r.pop("SUBJECT"), r.pop("EVENT")) for r in odm_rows] == [
        (w["STUDY_ID"], events[w["TIMEPOINT"]]) for w in wanted
    ]
    subject_level = {"STUDY_ID", "SITE", "GROUP", "TIMEPOINT"}
    assert odm_rows == [
        {k: v for k, v in w.items() if k not in subject_level and v is not None} for w in wanted
    ]


def test_the_date_of_birth_never_leaves_and_free_text_loses_cpr_numbers(
    export: dict[str, Any],
) -> None:
    trial: Trial = export["trial"]
    names, rows = read_all(export, "responses_long_demog")["csv"]
    assert "DOB" not in names
    assert all("[CPR number removed]" in row["NOTE"] for row in rows)
    redactions = export["job"].manifest["cpr_redactions"]
    assert {r["study_id"] for r in redactions} == {p.study_id for p in trial.randomised.values()}
    assert {r["variable"] for r in redactions} == {"NOTE"}


def test_spss_files_carry_labels_value_labels_and_user_missing_codes(
    export: dict[str, Any],
) -> None:
    kinds = readback.kinds_of(export["codebook"], "participants")
    _, _, meta = readback.read_sav(export["dir"] / "participants.sav", kinds)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["AGE"] == "Age at randomisation (years)"
    assert meta.variable_value_labels["SITE"] == {1: "Ballerup", 2: "Gladsaxe", 3: "Frederiksberg"}
    assert meta.variable_value_labels["SEX"] == {1: "Male", 2: "Female"}
    assert meta.variable_value_labels["GROUP"] == {
        1: "Group A",
        2: "Group B",
        -995: "Missing: not applicable",
    }
    assert meta.missing_ranges["AGE"] == [{"lo": -995.0, "hi": -995.0}]

    panss_kinds = readback.kinds_of(export["codebook"], "responses_long_panss")
    _, _, panss = readback.read_sav(export["dir"] / "responses_long_panss.sav", panss_kinds)
    assert panss.missing_ranges["P7"] == [{"lo": -999.0, "hi": -991.0}]
    assert panss.variable_value_labels["P7"][-992] == "Missing: refused"
    assert panss.variable_value_labels["TIMEPOINT"][0] == "Baseline (T0)"


def test_stata_files_carry_labels_and_extended_missing_values(export: dict[str, Any]) -> None:
    import pyreadstat

    path = str(export["dir"] / "responses_long_panss.dta")
    frame, meta = pyreadstat.read_dta(path)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["ASSESS_DAY"].startswith("Assessment (interview) date")
    assert meta.variable_value_labels["P7"]["b"] == "Missing: refused"
    assert meta.variable_value_labels["SITE"][2] == "Gladsaxe"
    # Read without the missing-value letters, a reason-coded value is simply missing...
    assert frame["P7"].isna().sum() == 4
    # ...and with them, it is Stata's .b (refused).
    tagged, _ = pyreadstat.read_dta(path, user_missing=True)
    assert list(tagged["P7"]).count("b") == 4


def test_parquet_columns_carry_their_metadata(export: dict[str, Any]) -> None:
    import json

    _, _, schema = readback.read_parquet(export["dir"] / "participants.parquet")
    site = schema.field("SITE").metadata
    assert site[b"label"].startswith(b"Recruiting community mental health centre")
    assert json.loads(site[b"value_labels"]) == {
        "1": "Ballerup",
        "2": "Gladsaxe",
        "3": "Frederiksberg",
    }
    assert json.loads(schema.field("AGE").metadata[b"missing_codes"]) == {
        "-995": "Missing: not applicable"
    }
    assert schema.metadata[b"dataset"] == b"participants"


def test_the_odm_metadata_describes_every_item_from_the_column_metadata(
    export: dict[str, Any],
) -> None:
    root = readback.read_odm(export["dir"] / "odm.xml")
    odm = readback.ODM
    assert root.get("ODMVersion") == "1.3.2"
    assert root.get("FileType") == "Snapshot"
    items = {d.get("OID"): d for d in root.iter(f"{odm}ItemDef")}
    sex = items["I.PARTICIPANT.SEX"]
    assert sex.find(f"{odm}Description/{odm}TranslatedText").text == "Sex"
    code_list_oid = sex.find(f"{odm}CodeListRef").get("CodeListOID")
    code_list = next(c for c in root.iter(f"{odm}CodeList") if c.get("OID") == code_list_oid)
    decoded = {i.get("CodedValue"): i.find(f"{odm}Decode/{odm}TranslatedText").text
               for i in code_list}  # fmt: skip
    assert decoded == {"1": "Male", "2": "Female"}
    assert items["I.YMRS.YMRS_1"].get("DataType") == "float"
    age_ref = next(r for r in root.iter(f"{odm}ItemRef") if r.get("ItemOID") == "I.PARTICIPANT.AGE")
    method = next(
        m for m in root.iter(f"{odm}MethodDef") if m.get("OID") == age_ref.get("MethodOID")
    )
    assert "date of birth" in method.find(f"{odm}Description/{odm}TranslatedText").text
    referenced = {r.get("ItemOID") for r in root.iter(f"{odm}ItemRef")}
    used = {i.get("ItemOID") for i in root.iter(f"{odm}ItemData")}
    assert used <= referenced == set(items)
