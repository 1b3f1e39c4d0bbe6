"""The assessor's and the clinician's worklists: due, open, overdue and completed, by due
date, across the user's sites, with no allocation anywhere."""

from __future__ import annotations

from typing import Any

from assessments.selectors import worklist
from tests.assessments.helpers import put_form, randomize_days_ago, typical_items
from tests.factories import api_client, make_participant, make_staff, page_client
from trial.roles import Role


def rows_for(user: Any) -> list[dict]:
    response = api_client(user).get("/api/v1/worklist/?page_size=100")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def test_states_follow_the_windows_and_rows_are_ordered_by_due_date(
    assessor: Any, sites: dict
) -> None:
    waiting = make_participant("BAL")  # consented, not randomised: baseline open
    fresh = make_participant("BAL")
    randomize_days_ago(fresh, 10)  # post due in ~9 months
    in_window = make_participant("BAL")
    randomize_days_ago(in_window, 260)  # post window 8–11 months: open
    late = make_participant("BAL")
    randomize_days_ago(late, 400)  # post window closed: overdue
    rows = rows_for(assessor)
    state = {(r["study_id"], r["timepoint"]): r["state"] for r in rows}
    assert state[(waiting.study_id, "baseline")] == "open"
    assert state[(fresh.study_id, "post")] == "due"
    assert state[(in_window.study_id, "post")] == "open"
    assert state[(late.study_id, "post")] == "overdue"
    assert state[(late.study_id, "followup")] == "due"
    assert state[(late.study_id, "baseline")] == "overdue"  # randomised without these forms
    # The most urgent first: the window that closes first (overdue ones lead); open-ended
    # windows (baseline before randomisation) last.
    closing = [r["window_closes"] for r in rows]
    assert closing == sorted(c for c in closing if c) + [None] * closing.count(None)


def test_completing_every_form_of_a_timepoint_completes_it(assessor: Any, sites: dict) -> None:
    participant = make_participant("BAL")
    randomize_days_ago(participant, 260)
    for code in ("GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS", "CSQ8"):
        response = put_form(assessor, participant, "post", code, typical_items(code))
        assert response.status_code == 201, (code, response.json())
    row = next(r for r in rows_for(assessor) if r["timepoint"] == "post")
    assert row["state"] == "completed"
    assert {f["status"] for f in row["forms"]} == {"complete"}
    assert "IMRS_C" not in {f["code"] for f in row["forms"]}
    open_only = api_client(assessor).get("/api/v1/worklist/?state=completed").json()["results"]
    assert [r["timepoint"] for r in open_only] == ["post"]


def test_the_worklist_covers_the_users_sites_only(sites: dict) -> None:
    assessor = make_staff("a2", Role.ASSESSOR, sites=["BAL", "GLA"])
    bal, gla, frb = make_participant("BAL"), make_participant("GLA"), make_participant("FRB")
    seen = {r["study_id"] for r in rows_for(assessor)}
    assert seen == {bal.study_id, gla.study_id}
    assert frb.study_id not in seen


def test_the_clinician_gets_a_worklist_of_imrs_clinician_forms(clinician: Any, sites: dict) -> None:
    participant = make_participant("BAL")
    randomize_days_ago(participant, 30)
    rows = rows_for(clinician)
    assert {f["code"] for r in rows for f in r["forms"]} == {"IMRS_C"}
    assert {r["timepoint"] for r in rows} == {"baseline", "post", "followup"}


def test_nothing_on_the_worklist_reveals_the_allocation(assessor: Any, sites: dict) -> None:
    imr, tau = make_participant("BAL"), make_participant("BAL")
    randomize_days_ago(imr, 30, arm="IMR")
    randomize_days_ago(tau, 30, arm="TAU")
    body = api_client(assessor).get("/api/v1/worklist/").content.decode()
    for leak in ('"arm"', '"TAU"', '"IMR"', "randomization_code", "group"):
        assert leak not in body, leak
    client = page_client(assessor)
    page = client.get("/assessments/worklist/").content.decode()
    assert "TAU" not in page and "Treatment as usual" not in page
    assert imr.allocation.randomization_code not in page
    # Identical rows whatever the arm, apart from the participant.
    by_participant = {r.study_id: r for r in worklist(user=assessor) if r.timepoint == "post"}
    first, second = by_participant[imr.study_id], by_participant[tau.study_id]
    assert (first.due, first.state, first.forms) == (second.due, second.state, second.forms)


def test_closed_participants_leave_the_worklist(assessor: Any, sites: dict) -> None:
    from participants.services import participant_close
    from tests.factories import coordinator_for

    participant = make_participant("BAL")
    assert participant.consent_date is not None
    participant_close(
        user=coordinator_for("BAL"),
        participant=participant,
        status="withdrawn",
        on=participant.consent_date,
        reason="Moved away",
    )
    assert rows_for(assessor) == []


def test_the_timeline_shows_forms_and_due_dates_without_clinician_links_for_blinded_users(
    assessor: Any, clinician: Any, sites: dict
) -> None:
    from assessments.selectors import participant_timeline as collect

    participant = make_participant("BAL")
    put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    randomize_days_ago(participant, 10)
    entries = {e.title: e for e in collect(participant, assessor)}
    assert entries["IMRS clinician · Baseline (before randomisation)"].url == ""
    assert entries["State Hope · Baseline (before randomisation)"].url.endswith("/baseline/SHS/")
    assert "Post-intervention (9 months after randomisation, window 8–11) due" in entries
    assert "One-year follow-up (21 months after randomisation, window 19–24) due" in entries
    clinician_view = {e.title: e for e in collect(participant, clinician)}
    clinicians_form = clinician_view["IMRS clinician · Baseline (before randomisation)"]
    assert clinicians_form.url.endswith("/baseline/IMRS_C/")
