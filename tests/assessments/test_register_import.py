"""Register data: linking by keyed CPR hash, all-or-nothing imports, line-numbered reports,
re-imports that supersede, and the analysis windows the exports read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from assessments.models import RegisterImport, ServiceUsePeriod
from assessments.selectors import service_use_by_window
from assessments.windows import service_use_windows
from participants import services as participant_services
from tests.assessments.helpers import randomize_days_ago
from tests.factories import api_client, coordinator_for
from trial.audit import events_of

HEADER = (
    "cpr;period_start;period_end;admissions;admission_days;emergency_visits;outpatient_contacts"
)
CPR_A = "010170-1231"
CPR_B = "020271-2342"


@pytest.fixture
def linked(sites: dict) -> dict[str, Any]:
    coordinator = coordinator_for("BAL")
    people = {}
    for cpr in (CPR_A, CPR_B):
        people[cpr] = participant_services.participant_register(
            user=coordinator, site_code="BAL", cpr=cpr, sex="male"
        )
    return people


def upload(user: Any, text: str, note: str = "") -> Any:
    return api_client(user).post(
        f"/api/v1/register-imports/?note={note}", text.encode(), content_type="text/csv"
    )


def test_lines_are_linked_through_the_cpr_hash_and_the_numbers_are_never_stored(
    linked: dict, data_manager: Any
) -> None:
    text = "\n".join(
        [
            HEADER,
            f"{CPR_A};2024-01-01;2024-06-30;1;12;2;10",
            f"{CPR_B};2024-01-01;2024-06-30;0;0;0;3",
        ]
    )
    response = upload(data_manager, text, note="First extraction")
    assert response.status_code == 201, response.json()
    assert (response.json()["lines"], response.json()["participants"]) == (2, 2)
    periods = {p.participant_id: p for p in ServiceUsePeriod.objects.all()}
    assert periods[linked[CPR_A].pk].admission_days == 12
    assert periods[linked[CPR_B].pk].outpatient_contacts == 3
    digits = [CPR_A.replace("-", ""), CPR_B.replace("-", ""), CPR_A, CPR_B]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if not table.startswith("assessments_"):
                continue
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = str(cursor.fetchall())
            assert not any(d in dump for d in digits), table


def test_a_file_with_bad_or_unmatched_lines_imports_nothing_and_reports_line_numbers(
    linked: dict, data_manager: Any
) -> None:
    text = "\n".join(
        [
            HEADER,
            f"{CPR_A};2024-01-01;2024-06-30;1;12;2;10",
            "320199-9999;2024-01-01;2024-06-30;0;0;0;0",
            "150560-1234;2024-01-01;2024-06-30;0;0;0;0",
            f"{CPR_B};2024-07-01;2024-06-30;0;0;0;1",
            f"{CPR_B};2024-01-01;2024-01-10;1;40;-1;x",
        ]
    )
    response = upload(data_manager, text)
    assert response.status_code == 400
    errors = response.json()["file"]
    assert [e.split(":")[0] for e in errors] == ["Line 3", "Line 4", "Line 5", "Line 6"]
    assert "not valid" in errors[0]
    assert "no participant" in errors[1]
    assert "after period_end" in errors[2]
    assert "exceeds the period" in errors[3] and "emergency_visits" in errors[3]
    assert "150560" not in str(errors) and "320199" not in str(errors)
    assert not RegisterImport.objects.exists() and not ServiceUsePeriod.objects.exists()


def test_overlapping_periods_of_one_participant_are_refused(
    linked: dict, data_manager: Any
) -> None:
    text = "\n".join(
        [HEADER, f"{CPR_A};2024-01-01;2024-06-30;0;0;0;1", f"{CPR_A};2024-06-30;2024-12-31;0;0;0;1"]
    )
    response = upload(data_manager, text)
    assert response.status_code == 400
    assert "overlaps line 2" in response.json()["file"][0]


def test_a_header_without_the_columns_is_refused(linked: dict, data_manager: Any) -> None:
    response = upload(data_manager, "cpr,start,end\n" + f"{CPR_A},2024-01-01,2024-02-01")
    assert response.status_code == 400
    assert "period_start" in response.json()["file"][0]


def test_a_reimport_supersedes_the_previous_import_which_is_kept(
    linked: dict, data_manager: Any
) -> None:
    first = upload(data_manager, "\n".join([HEADER, f"{CPR_A};2024-01-01;2024-06-30;1;5;0;2"]))
    second = upload(
        data_manager,
        "\n".join([HEADER.replace(";", ","), f"{CPR_A},01-01-2024,30-06-2024,2,9,1,4"]),
        note="Corrected extraction",
    )
    assert second.status_code == 201
    old = RegisterImport.objects.get(pk=first.json()["id"])
    assert old.superseded_by_id == second.json()["id"]
    assert ServiceUsePeriod.objects.count() == 2  # nothing lost
    listing = api_client(data_manager).get("/api/v1/register-imports/").json()["results"]
    assert [i["current"] for i in listing] == [True, False]
    event = events_of(old).order_by("pgh_id").last()
    assert event is not None
    assert event.pgh_context["reason"] == "Corrected extraction"


def test_only_data_managers_import_register_data(linked: dict, assessor: Any, monitor: Any) -> None:
    text = "\n".join([HEADER, f"{CPR_A};2024-01-01;2024-06-30;1;5;0;2"])
    assert upload(assessor, text).status_code == 403
    assert upload(monitor, text).status_code == 403
    assert not RegisterImport.objects.exists()


def test_counts_are_summed_into_the_analysis_windows(linked: dict, data_manager: Any) -> None:
    person = linked[CPR_A]
    randomize_days_ago(person, 800)
    randomized_on = timezone.localdate() - timedelta(days=800)
    spans = service_use_windows(randomized_on)
    pre_start, pre_end = spans["W_PRE"]
    w1_start, w1_end = spans["W1"]
    w2_start, w2_end = spans["W2"]
    lines = [
        f"{CPR_A};{pre_start};{pre_end};1;10;1;5",
        f"{CPR_A};{w1_start};{w1_start + timedelta(days=30)};1;3;0;2",
        f"{CPR_A};{w1_start + timedelta(days=31)};{w1_end};0;0;2;6",
        f"{CPR_A};{w2_start};{w2_end};2;20;1;12",
    ]
    assert upload(data_manager, "\n".join([HEADER, *lines])).status_code == 201
    counts = service_use_by_window([person])[person.pk]
    assert (counts["W_PRE"].ADM_N, counts["W_PRE"].ADM_DAYS) == (1, 10)
    assert (counts["W1"].ADM_N, counts["W1"].ER_N, counts["W1"].OPC_N) == (1, 2, 8)
    assert (counts["W2"].ADM_N, counts["W2"].ADM_DAYS) == (2, 20)
    assert counts["W_ALL"].ADM_N == 3 and counts["W_ALL"].OPC_N == 20
    other = linked[CPR_B]
    randomize_days_ago(other, 100)
    assert service_use_by_window([other])[other.pk]["W1"].status == "not_linked"


def test_a_period_across_a_window_boundary_leaves_that_window_missing(
    linked: dict, data_manager: Any
) -> None:
    person = linked[CPR_A]
    randomize_days_ago(person, 400)
    w1_start, _ = service_use_windows(timezone.localdate() - timedelta(days=400))["W1"]
    line = f"{CPR_A};{w1_start - timedelta(days=5)};{w1_start + timedelta(days=5)};1;3;0;0"
    assert upload(data_manager, "\n".join([HEADER, line])).status_code == 201
    counts = service_use_by_window([person])[person.pk]
    assert counts["W1"].status == "crosses_boundary" and counts["W1"].ADM_N is None
    assert counts["W2"].status == "ok" and counts["W2"].ADM_N == 0
