"""Bad files, through the API and through the pages: the register-data import (SPEC §11) and the
allocation list import and verification (RANDOMISATION.md). A file in the wrong encoding, with
the wrong header, with bytes that are not text, with numbers no column can hold, with a line
the csv module cannot read, or too large, gets a clear refusal and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from randomization import generator
from tests.factories import api_client, page_client
from tests.invariants.probes import is_error_body
from tests.invariants.world import Trial, changed_tables, rolled_back, row_counts
from trial.roles import Role

MB = 1024 * 1024


def register_file(trial: Trial) -> bytes:
    return (
        "cpr;period_start;period_end;admissions;admission_days;emergency_visits;"
        f"outpatient_contacts\n{trial.consented_cpr};2024-01-01;2024-12-31;1;12;2;14\n"
    ).encode()


def gla_list() -> bytes:
    slots = generator.generate_list(seed=5, stratum="GLA", min_length=12)
    lines = [f"{s.site},{s.sequence},{s.block},{s.block_size},{s.arm}" for s in slots]
    return ("\n".join(["site,sequence,block,block_size,arm", *lines]) + "\n").encode()


def with_field(good: bytes, separator: str, index: int, value: str) -> bytes:
    """The file with one field of its first data line replaced."""
    header, first, *rest = good.decode().splitlines()
    fields = first.split(separator)
    fields[index] = value
    return "\n".join([header, separator.join(fields), *rest]).encode() + b"\n"


def bad_files(good: bytes, separator: str, *, count: int, limit: int) -> list[tuple[str, bytes]]:
    """Files no reading makes valid. `count` is the index of a whole-number column."""
    header = good.decode().splitlines()[0]
    return [
        ("an empty file", b""),
        ("only the header", (header + "\n").encode()),
        ("a wrong header", b"a,b,c\n1,2,3\n"),
        ("UTF-16", good.decode().encode("utf-16")),
        ("a NUL byte", with_field(good, separator, count, "\x001")),
        ("bytes that are not text", bytes(range(256)) * 8),
        ("a superscript digit for a number", with_field(good, separator, count, "²")),
        ("a 30-digit number", with_field(good, separator, count, "9" * 30)),
        ("a negative number", with_field(good, separator, count, "-3")),
        ("a field the csv module cannot read", with_field(good, separator, 0, "x" * 200_000)),
        ("a file over the limit", good + b"\n" * (limit + 1)),
    ]


def refused_cleanly(answer: Any, *, api: bool) -> str | None:
    """Why an answer is not a clear refusal (None if it is)."""
    if answer.status_code >= 500:
        exc = getattr(answer, "exc_info", None)
        return f"{answer.status_code} {exc[1] if exc else ''!r}"
    if answer.status_code not in (400, 409):
        return f"{answer.status_code} (not a refusal)"
    if api and not is_error_body(json.loads(answer.content)):
        return f"{answer.status_code} with the body {answer.content[:200]!r}"
    return None


def check(trial: Trial, send: Any, good: bytes, files: list[tuple[str, bytes]], api: bool) -> None:
    with rolled_back():
        accepted = send(good, "good.csv")
        assert accepted.status_code in (200, 201, 302), accepted.content[:300]
    before = row_counts()
    problems = []
    for label, content in files:
        with rolled_back():
            answer = send(content, "bad.csv")
            why = refused_cleanly(answer, api=api)
            changed = changed_tables(before, row_counts()) if why is None else {}
        if why:
            problems.append(f"{label}: {why}")
        elif changed:
            problems.append(f"{label}: refused but wrote {changed}")
    assert not problems, "\n".join(problems)


def quiet(client: Any) -> Any:
    client.raise_request_exception = False
    return client


def test_a_bad_register_file_over_the_api_is_refused_and_writes_nothing(
    trial: Trial, db: None
) -> None:
    client = quiet(api_client(trial.user(Role.DATA_MANAGER)))
    good = register_file(trial)

    def send(content: bytes, name: str) -> Any:
        return client.generic("POST", "/api/v1/register-imports/", content, "text/csv")

    files = bad_files(good, ";", count=3, limit=5 * MB)
    check(trial, send, good, files, api=True)


def test_a_bad_register_file_on_the_page_is_refused_and_writes_nothing(
    trial: Trial, db: None
) -> None:
    client = quiet(page_client(trial.user(Role.DATA_MANAGER)))
    good = register_file(trial)

    def send(content: bytes, name: str) -> Any:
        upload = SimpleUploadedFile(name, content, "text/csv")
        return client.post("/assessments/register/", {"file": upload, "note": "Yearly import"})

    files = bad_files(good, ";", count=3, limit=5 * MB)
    files.append(("a note with a NUL character", good))
    check(trial, send, good, files[:-1], api=False)
    with rolled_back():
        before = row_counts()
        upload = SimpleUploadedFile("good.csv", good, "text/csv")
        answer = client.post("/assessments/register/", {"file": upload, "note": "a\x00b"})
        assert answer.status_code == 400
        assert changed_tables(before, row_counts()) == {}


@pytest.mark.parametrize("action", ["import", "verify"])
def test_a_bad_allocation_list_over_the_api_is_refused_and_writes_nothing(
    action: str, trial: Trial, db: None
) -> None:
    client = quiet(api_client(trial.user(Role.STATISTICIAN)))
    good = gla_list()

    def send(content: bytes, name: str) -> Any:
        text = content.decode("utf-8", errors="surrogateescape")
        try:
            body = json.dumps({"csv": text, "filename": name})
        except UnicodeEncodeError:  # bytes that are not text cannot travel in JSON at all
            body = json.dumps({"csv": content.decode("latin-1"), "filename": name})
        return client.generic(
            "POST", f"/api/v1/allocation-lists/{action}/", body, "application/json"
        )

    files = bad_files(good, ",", count=1, limit=3 * MB)
    if action == "verify":
        # Verification answers 200 with the differences for any readable list; what matters
        # is that nothing unreadable crashes it and nothing is written.
        check_verification(trial, send, files)
    else:
        check(trial, send, good, files, api=True)


@pytest.mark.parametrize("action", ["import", "verify"])
def test_a_bad_allocation_list_on_the_page_is_refused_and_writes_nothing(
    action: str, trial: Trial, db: None
) -> None:
    client: Client = quiet(page_client(trial.user(Role.STATISTICIAN)))
    good = gla_list()

    def send(content: bytes, name: str) -> Any:
        upload = SimpleUploadedFile(name, content, "text/csv")
        return client.post(f"/randomisation/lists/{action}/", {"file": upload, "reason": ""})

    files = bad_files(good, ",", count=1, limit=5 * MB)
    files.append(("a file name with a NUL character", good))
    if action == "verify":
        check_verification(trial, send, files)
        return
    check(trial, send, good, files[:-1], api=False)
    with rolled_back():
        before = row_counts()
        answer = send(good, "bad\x00name.csv")
        assert answer.status_code < 500
        if answer.status_code >= 400:
            assert changed_tables(before, row_counts()) == {}


def check_verification(trial: Trial, send: Any, files: list[tuple[str, bytes]]) -> None:
    before = row_counts()
    problems = []
    for label, content in files:
        with rolled_back():
            answer = send(content, "bad.csv")
            changed = changed_tables(before, row_counts()) if answer.status_code < 500 else {}
        if answer.status_code >= 500:
            exc = getattr(answer, "exc_info", None)
            problems.append(f"{label}: {answer.status_code} {exc[1] if exc else ''!r}")
        elif changed:
            problems.append(f"{label}: wrote {changed}")
    assert not problems, "\n".join(problems)
