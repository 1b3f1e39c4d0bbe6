"""The long response files are decoded by PostgreSQL and Arrow where they can be
(`FormDecoder.sql`, `typed_values`) and by `FormDecoder.decode()` otherwise: both must give the
same files, and a form only decode() takes, or refuses, after chunks already decoded the fast
way must give decode()'s values or its error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datasets import responses
from datasets.forms import FormDecoder
from tests.exports.trial import build_trial, new_job, respond, run_inline
from tests.factories import allocate, make_participant

pytestmark = pytest.mark.django_db(transaction=True)


def hashes(job: Any) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in job.files if f["kind"] == "data"}


def test_the_sql_and_the_python_decoding_give_the_same_files(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_trial()
    monkeypatch.setattr(responses, "CHUNK", 3)  # several chunks (row groups) per file
    fast = run_inline(new_job(dm, formats=["csv", "parquet"]))
    monkeypatch.setattr(FormDecoder, "sql", lambda self: None)
    slow = run_inline(new_job(dm, formats=["csv", "parquet"]))
    assert fast.status == slow.status == "done", (fast.error, slow.error)
    assert "responses_long_panss.parquet" in hashes(fast)
    assert hashes(fast) == hashes(slow)


@pytest.mark.parametrize(
    ("third", "error"),
    [
        ({"HAMD6_1": 3.0, "HAMD6_2": 1}, ""),  # a whole number stored as 3.0: decode() takes it
        ({"HAMD6_1": 7, "HAMD6_2": 1}, "HAMD6 HAMD6_1 of {sid} at post holds 7"),
        ({"HAMD6_1": "2", "HAMD6_2": 1}, "HAMD6 HAMD6_1 of {sid} at post holds '2'"),
    ],
)
def test_a_form_after_fast_chunks_gets_the_values_or_the_error_of_decode(
    dm: Any,
    export_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    third: dict[str, Any],
    error: str,
) -> None:
    monkeypatch.setattr(responses, "CHUNK", 2)
    people = [make_participant("BAL") for _ in range(5)]
    for person in people:
        allocate(person, "TAU")
    forms = [{"HAMD6_1": 1, "HAMD6_2": 2}, {"HAMD6_1": 0}, third, {"HAMD6_1": 4}, {}]
    for person, items in zip(people, forms, strict=True):
        respond(person, "post", "HAMD6", items, scores={})
    job = run_inline(new_job(dm, formats=["csv"]))
    if error:
        assert job.status == "failed"
        assert error.format(sid=people[2].study_id) in job.error
        return
    assert job.status == "done", job.error
    monkeypatch.setattr(FormDecoder, "sql", lambda self: None)
    slow = run_inline(new_job(dm, formats=["csv"]))
    assert "responses_long_hamd6.csv" in hashes(job)
    assert hashes(job) == hashes(slow)
