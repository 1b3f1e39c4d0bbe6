"""Edit checks: the PSP interval, the follow-up questions, the visit windows and the
automatic queries they open and close."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from django.utils import timezone, translation

from assessments import windows
from assessments.models import Query, QueryKind, QueryStatus, Timepoint
from tests.assessments.helpers import put_form, randomize_days_ago, typical_items

DOMAINS_41 = {"PSP_A": 4, "PSP_B": 4, "PSP_C": 1, "PSP_D": 1}


def test_a_psp_total_outside_the_interval_needs_a_reason_and_opens_a_query(
    assessor: Any, participant: Any
) -> None:
    refused = put_form(assessor, participant, "baseline", "PSP", DOMAINS_41 | {"PSP_TOTAL": 72})
    assert refused.status_code == 400
    assert "41–50" in refused.json()["PSP_TOTAL"][0]
    assert not Query.objects.exists()
    accepted = put_form(
        assessor,
        participant,
        "baseline",
        "PSP",
        DOMAINS_41 | {"PSP_TOTAL": 72},
        comments={"PSP_TOTAL": "Works full time despite marked problems"},
    )
    assert accepted.status_code == 201
    assert accepted.json()["derived"]["PSP_INTERVAL"] == [41, 50]
    assert accepted.json()["scores"]["PSP_TOTAL"] == 72  # never silently recomputed
    query = Query.objects.get()
    assert (query.kind, query.edit_check, query.item) == ("automatic", "psp_interval", "PSP_TOTAL")
    assert "Works full time" in query.message


def test_a_total_inside_the_interval_opens_no_query(assessor: Any, participant: Any) -> None:
    response = put_form(assessor, participant, "baseline", "PSP", DOMAINS_41 | {"PSP_TOTAL": 45})
    assert response.status_code == 201
    assert not Query.objects.exists()


def test_correcting_the_total_closes_the_automatic_query(assessor: Any, participant: Any) -> None:
    put_form(
        assessor, participant, "baseline", "PSP", DOMAINS_41 | {"PSP_TOTAL": 72}, reason="Judgement"
    )
    fixed = put_form(
        assessor,
        participant,
        "baseline",
        "PSP",
        DOMAINS_41 | {"PSP_TOTAL": 48},
        version=1,
        reason="Typo",
    )
    assert fixed.status_code == 200
    query = Query.objects.get()
    assert query.status == QueryStatus.CLOSED
    assert [m.action for m in query.messages.all()] == ["raised", "auto_closed"]


def test_a_psp_total_with_a_missing_domain_is_accepted_with_a_query(
    assessor: Any, participant: Any
) -> None:
    items = {"PSP_A": 3, "PSP_B": 2, "PSP_C": 1, "PSP_TOTAL": 60}
    response = put_form(
        assessor, participant, "baseline", "PSP", items, missing={"PSP_D": "not_assessed"}
    )
    assert response.status_code == 201
    assert response.json()["scores"]["PSP_DECILE"] is None
    assert Query.objects.get().edit_check == "psp_domain_missing"


def test_the_prompt_question_is_asked_only_for_the_11_to_20_interval(
    assessor: Any, participant: Any
) -> None:
    severe = {"PSP_A": 5, "PSP_B": 5, "PSP_C": 5, "PSP_D": 5}
    unanswered = put_form(assessor, participant, "baseline", "PSP", severe | {"PSP_TOTAL": 17})
    assert unanswered.status_code == 400
    assert "PSP_D9_PROMPT" in unanswered.json()
    answered = put_form(
        assessor, participant, "baseline", "PSP", severe | {"PSP_TOTAL": 17, "PSP_D9_PROMPT": 1}
    )
    assert answered.status_code == 201
    assert answered.json()["derived"]["PSP_INTERVAL"] == [16, 20]
    not_asked = put_form(
        assessor,
        participant,
        "baseline",
        "PSP",
        DOMAINS_41 | {"PSP_TOTAL": 45, "PSP_D9_PROMPT": 1},
        version=1,
        reason="Re-rated",
    )
    assert not_asked.status_code == 400
    assert list(not_asked.json()) == ["PSP_D9_PROMPT"]


def test_the_survival_question_narrows_the_lowest_interval(assessor: Any, participant: Any) -> None:
    worst = {"PSP_A": 6, "PSP_B": 2, "PSP_C": 2, "PSP_D": 1}
    outside = put_form(
        assessor, participant, "baseline", "PSP", worst | {"PSP_D10_SURVIVAL": 0, "PSP_TOTAL": 3}
    )
    assert outside.status_code == 400 and "6–10" in outside.json()["PSP_TOTAL"][0]
    inside = put_form(
        assessor, participant, "baseline", "PSP", worst | {"PSP_D10_SURVIVAL": 1, "PSP_TOTAL": 3}
    )
    assert inside.status_code == 201


def test_the_visit_windows_run_from_randomization(participant: Any) -> None:
    randomize_days_ago(participant, 0)
    randomized_on = timezone.localdate()
    post = windows.window(participant, "post")
    assert post.due == windows.add_months(randomized_on, 9)
    assert (post.opens, post.closes) == (
        windows.add_months(randomized_on, 8),
        windows.add_months(randomized_on, 11),
    )
    followup = windows.window(participant, "followup")
    assert followup.due == windows.add_months(randomized_on, 21)
    assert followup.closes == windows.add_months(randomized_on, 24)


def test_month_arithmetic_keeps_the_end_of_month() -> None:
    from datetime import date

    assert windows.add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert windows.add_months(date(2024, 5, 31), 9) == date(2025, 2, 28)
    assert windows.add_months(date(2024, 3, 15), -12) == date(2023, 3, 15)


def test_the_windows_are_settings(participant: Any, settings: Any) -> None:
    settings.ASSESSMENT_WINDOWS = {
        "post": {"due": 6, "opens": 5, "closes": 7},
        "followup": {"due": 12, "opens": 11, "closes": 13},
    }
    randomize_days_ago(participant, 0)
    assert windows.window(participant, "post").due == windows.add_months(timezone.localdate(), 6)


def test_an_interview_outside_its_window_opens_a_query(assessor: Any, participant: Any) -> None:
    randomize_days_ago(participant, 100)
    today = timezone.localdate()
    response = put_form(
        assessor, participant, "post", "GAF", {"GAF_S": 60, "GAF_F": 61}, interview_date=str(today)
    )
    assert response.status_code == 201
    query = Query.objects.get()
    assert (query.kind, query.edit_check, query.item) == (
        QueryKind.AUTOMATIC,
        "window",
        "interview_date",
    )
    assert "outside" in query.message


def test_an_interview_inside_its_window_opens_none_and_a_corrected_date_closes_it(
    assessor: Any, participant: Any
) -> None:
    randomize_days_ago(participant, 260)
    randomized_on = timezone.localdate() - timedelta(days=260)
    inside = windows.add_months(randomized_on, 8) + timedelta(days=1)
    early = randomized_on + timedelta(days=10)
    put_form(
        assessor, participant, "post", "GAF", {"GAF_S": 60, "GAF_F": 61}, interview_date=str(early)
    )
    assert Query.objects.get().status == QueryStatus.OPEN
    put_form(
        assessor,
        participant,
        "post",
        "GAF",
        {"GAF_S": 60, "GAF_F": 61},
        interview_date=str(inside),
        version=1,
        reason="Date typed wrong",
    )
    assert Query.objects.get().status == QueryStatus.CLOSED


def test_impossible_interview_dates_are_refused(assessor: Any, participant: Any) -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = put_form(
        assessor,
        participant,
        "baseline",
        "GAF",
        {"GAF_S": 60, "GAF_F": 61},
        interview_date=str(tomorrow),
    )
    assert response.status_code == 400 and "interview_date" in response.json()
    randomize_days_ago(participant, 30)
    before = timezone.localdate() - timedelta(days=31)
    response = put_form(
        assessor, participant, "post", "GAF", {"GAF_S": 60, "GAF_F": 61}, interview_date=str(before)
    )
    assert response.status_code == 400 and "interview_date" in response.json()


def test_a_baseline_interview_after_randomization_opens_a_query(
    assessor: Any, participant: Any
) -> None:
    randomize_days_ago(participant, 5)
    response = put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    assert response.status_code == 201
    assert Query.objects.get().edit_check == "window"


def test_a_demographic_diagnosis_that_differs_from_screening_opens_a_query(
    assessor: Any, participant: Any
) -> None:
    from tests.assessments.helpers import extreme_items

    items = extreme_items("DEMOG") | {"DX_GROUP": 2, "DX_ICD10": "F31.3"}
    response = put_form(assessor, participant, "baseline", "DEMOG", items)
    assert response.status_code == 201
    assert Query.objects.get().edit_check == "dx_differs_from_screening"


def test_an_accepted_automatic_query_is_not_raised_again_by_the_next_save(
    assessor: Any, participant: Any, data_manager: Any
) -> None:
    from assessments import services

    put_form(
        assessor, participant, "baseline", "PSP", DOMAINS_41 | {"PSP_TOTAL": 72}, reason="Judgement"
    )
    services.query_close(user=data_manager, query=Query.objects.get(), text="Accepted")
    put_form(
        assessor,
        participant,
        "baseline",
        "PSP",
        DOMAINS_41 | {"PSP_TOTAL": 72},
        comments={"PSP_TOTAL": "Judgement"},
        interview_date=str(timezone.localdate() - timedelta(days=0)),
        version=1,
        reason="Comment only",
        status="complete",
    )
    assert Query.objects.count() == 1


def test_the_window_messages_give_dates_in_the_readers_format() -> None:
    consented = SimpleNamespace(consent_date=date(2026, 3, 4), status="active", status_date=None)

    def messages() -> list[str]:
        found = windows.interview_date_findings(
            consented, Timepoint.BASELINE, date(2026, 3, 2), randomized_on=None
        )
        return [str(f.message) for f in found]

    with translation.override("da"):
        assert messages() == ["Interviewdatoen ligger før samtykkedatoen (04-03-2026)."]
    with translation.override("en"):
        assert messages() == ["The interview date is before the consent date (2026-03-04)."]
