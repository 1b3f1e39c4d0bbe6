"""Every dataset, in every format, read back with the statisticians' own tools (the csv module,
pyreadstat, pandas' Stata reader, pyarrow, an XML parser) equals what the database holds, in a
blinded and in an unblinded export; the files carry their labels, value labels and missing
values; the codebook lists exactly the variables of the files."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq
import pyreadstat
import pytest

from instruments import metadata, registry
from tests.exports import expected, readback
from tests.exports.locked.conftest import LockedExports

pytestmark = pytest.mark.django_db

FORMS = [i.code for i in registry.forms()]
BLINDED_DATASETS = [
    "participants",
    *[f"responses_long_{code.lower()}" for code in FORMS if code != "IMRS_C"],
    "responses_wide",
    "service_use",
    "queries",
    "signatures",
]
UNBLINDED_DATASETS = [
    "participants",
    *[f"responses_long_{code.lower()}" for code in FORMS],
    "responses_wide",
    "service_use",
    "queries",
    "signatures",
    "attendance",
    "exposure",
    "fidelity",
    "blinding",
]
CASES = [("blinded", name) for name in BLINDED_DATASETS]
CASES += [("unblinded", name) for name in UNBLINDED_DATASETS]


def wanted(name: str, blinded: bool, masking: dict[str, str] | None) -> list[dict[str, Any]]:
    if name.startswith("responses_long_"):
        code = next(c for c in FORMS if c.lower() == name.removeprefix("responses_long_"))
        return expected.response_rows(code, masking)
    if name == "responses_wide":
        forms = [c for c in FORMS if not (blinded and c == "IMRS_C")]
        return expected.wide_rows(masking, forms)
    if name == "queries":
        return expected.query_rows(blinded)
    if name in ("participants", "service_use"):
        return getattr(expected, f"{name}_rows")(masking)
    return getattr(expected, f"{name}_rows")()


def job_of(built: LockedExports, kind: str) -> Any:
    return built.blinded[0] if kind == "blinded" else built.unblinded[0]


def codebook(built: LockedExports, job: Any) -> list[dict[str, str]]:
    return readback.read_codebook(built.folder(job) / "codebook.csv")


def normalised(rows: list[dict[str, Any]], kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Text left empty is "" in CSV, SPSS and Stata and null in Parquet: one form for all."""
    return [
        {k: ("" if v is None and kinds[k] == "text" else v) for k, v in row.items()} for row in rows
    ]


def test_the_exports_hold_exactly_the_datasets_their_blinding_allows(
    locked_exports: LockedExports,
) -> None:
    for kind, names in (("blinded", BLINDED_DATASETS), ("unblinded", UNBLINDED_DATASETS)):
        job = job_of(locked_exports, kind)
        assert [d["name"] for d in job.manifest["datasets"]] == names
        files = {f["name"] for f in job.files}
        for name in names:
            assert {f"{name}.{ext}" for ext in ("csv", "sav", "dta", "parquet")} <= files


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_every_format_reads_back_the_dataset_as_in_the_database(
    locked_exports: LockedExports, kind: str, name: str
) -> None:
    job = job_of(locked_exports, kind)
    masking = locked_exports.masking if kind == "blinded" else None
    rows = wanted(name, kind == "blinded", masking)
    assert rows, "the test trial has data for every dataset"
    folder = locked_exports.folder(job)
    kinds = readback.kinds_of(codebook(locked_exports, job), name)
    assert list(kinds) == list(rows[0])
    wanted_rows = normalised(rows, kinds)
    names, csv_rows = readback.read_csv(folder / f"{name}.csv", kinds)
    assert names == list(kinds)
    assert normalised(csv_rows, kinds) == wanted_rows
    sav_names, sav_rows, _ = readback.read_sav(folder / f"{name}.sav", kinds)
    assert sav_names == list(kinds)
    assert normalised(sav_rows, kinds) == wanted_rows
    dta_names, dta_rows, _ = readback.read_dta(folder / f"{name}.dta", kinds)
    assert dta_names == list(kinds)
    assert normalised(dta_rows, kinds) == wanted_rows
    pq_names, pq_rows, _ = readback.read_parquet(folder / f"{name}.parquet")
    assert pq_names == list(kinds)
    assert normalised(pq_rows, kinds) == wanted_rows
    rows_in_manifest = {d["name"]: d["rows"] for d in job.manifest["datasets"]}
    assert rows_in_manifest[name] == len(rows)


ODM_FORMS = {
    "participants": "F.PARTICIPANT",
    "service_use": "F.SERVICE_USE",
    "attendance": "F.ATTENDANCE",
    "exposure": "F.EXPOSURE",
    "blinding": "F.BLINDING",
    **{f"responses_long_{code.lower()}": f"F.{code}" for code in FORMS},
}
EVENTS = {0: "SE.T0", 1: "SE.T1", 2: "SE.T2"}
SUBJECT_LEVEL = {"STUDY_ID", "SITE", "ARM", "GROUP"}


def odm_expected(name: str, row: dict[str, Any], codebook_rows: dict[str, str]) -> dict[str, Any]:
    """A dataset row as its ODM FormData: the subject's key and event, the repeat key, and
    the items (not the keys; site and arm only in the enrolment form)."""
    keys = {"INSTRUMENT", "TIMEPOINT", "SESSION_ID", "WINDOW"}
    event = {"participants": "SE.ENROLMENT", "service_use": "SE.REGISTER"}.get(name, "SE.IMR")
    if "TIMEPOINT" in row:
        event = EVENTS[row["TIMEPOINT"]]
    result: dict[str, Any] = {"SUBJECT": row["STUDY_ID"], "EVENT": event}
    repeat = {"attendance": "SESSION_ID", "service_use": "WINDOW"}.get(name)
    if repeat:
        result["REPEAT"] = str(row[repeat])
    for key, value in row.items():
        if key in keys or key == "STUDY_ID" or value is None or value == "":
            continue
        if key in SUBJECT_LEVEL and name != "participants":
            continue
        result[key] = value
    return result


@pytest.mark.parametrize("kind", ["blinded", "unblinded"])
def test_the_odm_file_holds_every_subject_dataset_as_in_the_database(
    locked_exports: LockedExports, kind: str
) -> None:
    job = job_of(locked_exports, kind)
    masking = locked_exports.masking if kind == "blinded" else None
    root = readback.read_odm(locked_exports.folder(job) / "odm.xml")
    names = BLINDED_DATASETS if kind == "blinded" else UNBLINDED_DATASETS
    kinds_all = codebook(locked_exports, job)
    for name in names:
        form = ODM_FORMS.get(name)
        if form is None:
            continue  # the wide file, queries and fidelity are not subject data in ODM
        kinds = readback.kinds_of(kinds_all, name)
        rows = [odm_expected(name, row, kinds) for row in wanted(name, kind == "blinded", masking)]
        found = readback.odm_form_rows(root, form)
        key = lambda r: (r["SUBJECT"], r["EVENT"], int(r.get("REPEAT", 0)))  # noqa: E731
        assert sorted(found, key=key) == sorted(rows, key=key), name


def test_every_variable_carries_its_label_value_labels_and_missing_values_in_every_format(
    locked_exports: LockedExports,
) -> None:
    letters = {code: metadata.STATA_MISSING[r][1:] for r, code in metadata.MISSING_CODES.items()}
    for job in (locked_exports.blinded[0], locked_exports.unblinded[0]):
        folder = locked_exports.folder(job)
        entries = codebook(locked_exports, job)
        for dataset in {e["dataset"] for e in entries}:
            lines = [e for e in entries if e["dataset"] == dataset]
            _, sav = pyreadstat.read_sav(
                str(folder / f"{dataset}.sav"), metadataonly=True, user_missing=True
            )
            _, dta = pyreadstat.read_dta(str(folder / f"{dataset}.dta"), metadataonly=True)
            schema = pq.read_schema(folder / f"{dataset}.parquet")
            sav_labels = dict(zip(sav.column_names, sav.column_labels, strict=True))
            dta_labels = dict(zip(dta.column_names, dta.column_labels, strict=True))
            for line in lines:
                name, label = line["variable"], line["label"]
                assert label and sav_labels[name] == label, (dataset, name)
                assert dta_labels[name] == label[:80], (dataset, name)
                field = schema.field(name).metadata
                assert field[b"label"].decode() == label
                labels = parse_labels(line["value_labels"])
                reasons = parse_labels(line["missing_codes"])
                if labels or reasons:
                    assert sav.variable_value_labels[name] == labels | reasons, (dataset, name)
                    stata = labels | {letters[code]: text for code, text in reasons.items()}
                    assert dta.variable_value_labels[name] == stata, (dataset, name)
                    assert json.loads(field.get(b"value_labels", b"{}")) == {
                        str(k): v for k, v in labels.items()
                    }
                if reasons:
                    low, high = min(reasons), max(reasons)
                    declared = sav.missing_ranges[name]
                    assert declared == (
                        [{"lo": float(low), "hi": float(high)}]
                        if len(reasons) > 3
                        else [{"lo": float(c), "hi": float(c)} for c in sorted(reasons)]
                    )
                else:
                    assert name not in sav.missing_ranges


def parse_labels(text: str) -> dict[int, str]:
    labels = {}
    for part in filter(None, text.split("; ")):
        value, label = part.split(" = ", 1)
        labels[int(value)] = label
    return labels


def test_labels_and_value_labels_come_from_the_instrument_modules(
    locked_exports: LockedExports,
) -> None:
    job = locked_exports.unblinded[0]
    entries = {(e["dataset"], e["variable"]): e for e in codebook(locked_exports, job)}
    gaf_f = metadata.variables(registry.get("GAF"))[1]
    line = entries[("responses_long_gaf", "GAF_F")]
    assert (line["label"], line["allowed_values"], line["derivation"]) == (
        gaf_f.label,
        "1–100",
        gaf_f.derivation,
    )
    site = registry.get("DEMOG").item("SITE")
    assert parse_labels(entries[("participants", "SITE")]["value_labels"]) == {
        o.value: str(o.label) for o in site.options
    }
    housing = parse_labels(entries[("participants", "HOUSING")]["value_labels"])
    assert housing == {o.value: str(o.label) for o in registry.get("DEMOG").item("HOUSING").options}
    wide = entries[("responses_wide", "GAF_F_T1")]
    assert wide["label"] == f"T1 GAF: {gaf_f.label}"
    assert (wide["instrument"], wide["timepoint"], wide["source"]) == ("GAF", "T1", "GAF_F")
    # IMRS item 13 "not applicable" is an answer (no medication), and says so.
    item13 = parse_labels(entries[("responses_long_imrs_c", "IMRS_C_13")]["missing_codes"])
    assert item13[metadata.MISSING_CODES["not_applicable"]].startswith("Not applicable: no medic")
    pro = entries[("responses_long_panss", "PANSS_TOTAL_PRO")]
    assert "Sensitivity variable" in pro["notes"] and pro["type"] == "decimal"
    assert entries[("service_use", "ADM_N")]["label"] == str(
        registry.get("SERVICE_USE").score("ADM_N").label
    )


def test_the_codebook_lists_exactly_the_variables_of_every_data_file(
    locked_exports: LockedExports,
) -> None:
    for job in (locked_exports.blinded[0], locked_exports.unblinded[0]):
        folder = locked_exports.folder(job)
        entries = codebook(locked_exports, job)
        html = (folder / "codebook.html").read_text()
        by_dataset: dict[str, list[str]] = {}
        for entry in entries:
            by_dataset.setdefault(entry["dataset"], []).append(entry["variable"])
            assert f"<code>{entry['variable']}</code>" in html
        assert list(by_dataset) == [d["name"] for d in job.manifest["datasets"]]
        for dataset, variables in by_dataset.items():
            with open(folder / f"{dataset}.csv", encoding="utf-8") as handle:
                assert handle.readline().rstrip("\r\n").split(",") == variables
            for reader in (pyreadstat.read_sav, pyreadstat.read_dta):
                meta = reader(str(folder / f"{dataset}.{reader.__name__[-3:]}"), metadataonly=True)
                assert meta[1].column_names == variables
            assert pq.read_schema(folder / f"{dataset}.parquet").names == variables
            assert [d["variables"] for d in job.manifest["datasets"] if d["name"] == dataset] == [
                variables
            ]


def test_a_reason_for_a_missing_value_is_the_assessments_code_in_every_format(
    locked_exports: LockedExports,
) -> None:
    """BAL1's PANSS P7 at baseline was refused: -2 in CSV, SPSS and Parquet, .b in Stata, and
    IsNull with the reason in ODM; the sums that need it are empty, the prorated one is not."""
    job = locked_exports.blinded[0]
    folder = locked_exports.folder(job)
    refused = metadata.MISSING_CODES["refused"]
    study_id = locked_exports.trial.randomized["BAL1"].study_id
    kinds = readback.kinds_of(codebook(locked_exports, job), "responses_long_panss")
    _, rows = readback.read_csv(folder / "responses_long_panss.csv", kinds)
    baseline = next(r for r in rows if r["STUDY_ID"] == study_id and r["TIMEPOINT"] == 0)
    assert baseline["P7"] == refused
    assert baseline["PANSS_P"] is None and baseline["PANSS_TOTAL"] is None
    assert baseline["PANSS_TOTAL_PRO"] is not None
    tagged, _ = pyreadstat.read_dta(str(folder / "responses_long_panss.dta"), user_missing=True)
    assert metadata.STATA_MISSING["refused"].lstrip(".") in list(tagged["P7"])
    root: Any = readback.read_odm(folder / "odm.xml")
    items = [
        item
        for item in root.iter(f"{readback.ODM}ItemData")
        if item.get("ItemOID") == "I.PANSS.P7" and item.get("IsNull") == "Yes"
    ]
    assert [readback.odm_missing_code(i) for i in items] == [refused]
    reasons = next(c for c in root.iter(f"{readback.ODM}CodeList") if c.get("OID") == "CL.MISSING")
    decoded = {
        i.get("CodedValue"): readback.attr(readback.one(i, f"{readback.ODM}Alias"), "Name")
        for i in reasons
    }
    assert decoded[str(refused)] == "refused"
