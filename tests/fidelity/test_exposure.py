"""Exposure figures against a hand-computed example.

Ballerup group G1 starts Monday 2026-01-05 with 25 weekly sessions (session k on 2026-01-05 +
(k − 1) weeks). Its members, with the day each was randomised and the sessions they attended:

  P1  2025-12-01  sessions 1–25   25 sessions  first 2026-01-05   35 days
  P2  2025-12-15  sessions 5–25   21 sessions  first 2026-02-02   49 days
  P3  2025-12-29  sessions 1–11   11 sessions  first 2026-01-05    7 days
  P4  2025-11-20  sessions 1–10   10 sessions  first 2026-01-05   46 days
  P5  2025-12-01  none             0 sessions  (withdrew later: still counted, ITT)
  P6  2026-01-01  session 25       1 session   first 2026-06-22  172 days
Also at Ballerup: P7, randomised to IMR but never placed in a group (0 sessions, ITT), and a
TAU participant (never counted). Gladsaxe group G2 starts 2026-02-02: Q1 (randomised
2026-01-01) attends its first 3 sessions (first 2026-02-02, 32 days), Q2 none.

Ballerup (n = 7): sessions 25, 21, 11, 10, 0, 1, 0 → sum 68, mean 68/7 = 9.7143;
  sum of squares 1288, SS = 1288 − 68²/7 = 627.43, SD = √(627.43/6) = 10.2260;
  none 2/7 = 28.6 %; more than 10: 3/7; more than 20: 2/7 = 28.6 %;
  categories 0: 2, 1–10: 2 (P4, P6), 11–20: 1 (P3), >20: 2;
  days to first session 35, 49, 7, 46, 172 → mean 309/5 = 61.8, SD 63.7942.
Group G1 (n = 6, P1–P6): mean 68/6 = 11.3333, SD √((1288 − 68²/6)/5) = 10.1719; none 1/6.
All sites (n = 9): sessions sum 71, mean 7.8889, SD √((1297 − 71²/9)/8) = 9.5975;
  none 3/9; more than 20: 2/9; days mean 341/6 = 56.8333."""

from __future__ import annotations

from datetime import date

import pytest

from fidelity import exposure, selectors, services
from fidelity.models import GroupSession
from participants import services as participant_services
from tests.factories import api_client, coordinator_for, imr_participant, make_imr_group
from trial.errors import Conflict
from trial.models import DatasetLock

ATTENDED = {
    "P1": set(range(1, 26)),
    "P2": set(range(5, 26)),
    "P3": set(range(1, 12)),
    "P4": set(range(1, 11)),
    "P5": set(),
    "P6": {25},
}
RANDOMIZED = {
    "P1": date(2025, 12, 1),
    "P2": date(2025, 12, 15),
    "P3": date(2025, 12, 29),
    "P4": date(2025, 11, 20),
    "P5": date(2025, 12, 1),
    "P6": date(2026, 1, 1),
}


def _run_group(staff_user, coordinator, site, start, attended, randomized, weeks):
    group = make_imr_group(site, start_date=start)
    people = {}
    for label, day in randomized.items():
        people[label] = imr_participant(site, randomized_on=day)
        services.membership_add(user=coordinator, group=group, participant_id=people[label].pk)
    services.schedule_generate(user=staff_user, group=group, weeks=weeks)
    for number, session in enumerate(GroupSession.objects.filter(group=group).order_by("date"), 1):
        present = [people[label].pk for label, numbers in attended.items() if number in numbers]
        services.attendance_record(user=staff_user, session=session, present=present)
    return group, people


@pytest.fixture
def trial(staff):
    g1, bal = _run_group(
        staff.instructor, staff.coordinator, "BAL", date(2026, 1, 5), ATTENDED, RANDOMIZED, 25
    )
    participant_services.participant_close(
        user=staff.coordinator,
        participant=bal["P5"],
        status="withdrawn",
        on=date.today(),
        reason="Moved away",
    )
    bal["P7"] = imr_participant("BAL", randomized_on=date(2025, 12, 1))
    imr_participant("BAL", arm="TAU", randomized_on=date(2025, 12, 1))
    g2, gla = _run_group(
        staff.instructor_gla,
        coordinator_for("GLA"),
        "GLA",
        date(2026, 2, 2),
        {"Q1": {1, 2, 3}, "Q2": set()},
        {"Q1": date(2026, 1, 1), "Q2": date(2026, 1, 10)},
        4,
    )
    return g1, g2, bal, gla


@pytest.fixture
def locked(staff, trial):
    # The ITT figures per site and for the trial come with the lock (no per-site counts by
    # arm before it).
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=staff.statistician)
    return trial


def test_the_per_participant_rows_follow_the_hand_computed_example(staff, locked) -> None:
    g1, _, bal, _ = locked
    rows = {r.study_id: r for r in selectors.exposure_rows(user=staff.statistician, site="BAL")}
    assert len(rows) == 7  # the TAU participant is not there
    p2 = rows[bal["P2"].study_id]
    assert (p2.sessions_attended, p2.first_session_on, p2.days_to_first_session) == (
        21,
        date(2026, 2, 2),
        49,
    )
    assert (p2.category, p2.more_than_10, p2.more_than_20) == (">20", True, True)
    p6 = rows[bal["P6"].study_id]
    assert (p6.sessions_attended, p6.days_to_first_session, p6.category) == (1, 172, "1-10")
    p4 = rows[bal["P4"].study_id]
    assert (p4.category, p4.more_than_10) == ("1-10", False)
    p5 = rows[bal["P5"].study_id]
    assert (p5.status, p5.sessions_attended, p5.first_session_on, p5.category) == (
        "withdrawn",
        0,
        None,
        "0",
    )
    p7 = rows[bal["P7"].study_id]
    assert (p7.group_id, p7.sessions_attended) == (None, 0)
    assert rows[bal["P1"].study_id].group_name == g1.name


def test_the_site_group_and_overall_summaries_match_the_hand_computed_figures(
    staff, locked
) -> None:
    report = selectors.exposure_report(user=staff.statistician)
    bal = next(s for s in report.sites if s.scope == "BAL")
    assert bal.participants == 7 and bal.placed_in_group == 6
    assert bal.mean_sessions == pytest.approx(9.7143, abs=5e-5)
    assert bal.sd_sessions == pytest.approx(10.2260, abs=5e-5)
    assert bal.attended_none == 2 and bal.share_none == pytest.approx(2 / 7)
    assert bal.more_than_10 == 3
    assert bal.more_than_20 == 2 and bal.share_more_than_20 == pytest.approx(0.2857, abs=5e-5)
    assert bal.categories == {"0": 2, "1-10": 2, "11-20": 1, ">20": 2}
    assert bal.with_first_session == 5
    assert bal.mean_days_to_first_session == pytest.approx(61.8)
    assert bal.sd_days_to_first_session == pytest.approx(63.7942, abs=5e-5)

    g1 = next(s for s in report.groups[0:50] if s.scope.startswith("BAL"))
    assert g1.participants == 6
    assert g1.mean_sessions == pytest.approx(11.3333, abs=5e-5)
    assert g1.sd_sessions == pytest.approx(10.1719, abs=5e-5)
    assert g1.share_none == pytest.approx(1 / 6)

    overall = report.overall
    assert overall is not None
    assert overall.participants == 9
    assert overall.mean_sessions == pytest.approx(7.8889, abs=5e-5)
    assert overall.sd_sessions == pytest.approx(9.5975, abs=5e-5)
    assert overall.share_none == pytest.approx(3 / 9)
    assert overall.share_more_than_20 == pytest.approx(2 / 9)
    assert overall.mean_days_to_first_session == pytest.approx(56.8333, abs=5e-5)


def test_the_exposure_endpoint_gives_the_same_figures_within_the_callers_sites(
    staff, locked
) -> None:
    body = api_client(staff.coordinator).get("/api/v1/exposure/").json()
    assert [s["scope"] for s in body["sites"]] == ["BAL"]  # a BAL coordinator sees BAL only
    assert body["overall"]["participants"] == 7
    assert body["overall"]["mean_sessions"] == pytest.approx(68 / 7)
    assert body["count"] == 7 and len(body["results"]) == 7

    g1, *_ = locked
    group = api_client(staff.instructor).get(f"/api/v1/groups/{g1.pk}/exposure/").json()
    assert group["summary"]["participants"] == 6
    assert group["summary"]["more_than_20"] == 2


def test_the_endpoint_pages_the_rows_and_the_groups_but_its_figures_cover_everyone(
    staff, locked
) -> None:
    client = api_client(staff.statistician)
    first = client.get("/api/v1/exposure/?page_size=4").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (9, 4, None)
    assert "page=2" in first["next"]
    last = client.get("/api/v1/exposure/?page_size=4&page=3").json()
    assert len(last["results"]) == 1 and last["next"] is None
    seen = [
        row["study_id"]
        for page in (1, 2, 3)
        for row in client.get(f"/api/v1/exposure/?page_size=4&page={page}").json()["results"]
    ]
    everyone = {r.study_id for r in selectors.exposure_rows(user=staff.statistician)}
    assert len(seen) == 9 and set(seen) == everyone  # every row once, in a stable order
    # The ITT figures are of all nine, whatever the page.
    assert last["overall"]["participants"] == 9
    assert last["overall"]["mean_sessions"] == pytest.approx(71 / 9)
    groups = client.get("/api/v1/exposure/?page_size=1&groups_page=2").json()["groups"]
    assert groups["count"] == 2 and [g["participants"] for g in groups["results"]] == [2]
    assert groups["previous"].endswith("?page_size=1") and groups["next"] is None
    assert client.get("/api/v1/exposure/?page=4&page_size=4").status_code == 404


def test_before_the_lock_only_group_figures_are_shown(staff, trial) -> None:
    g1, _, bal, _ = trial
    report = selectors.exposure_report(user=staff.statistician)
    assert (report.itt_available, report.overall, report.sites) == (False, None, [])
    assert [g.participants for g in report.groups[0:50]] == [6, 2]
    assert bal["P7"].study_id not in {row.study_id for row in report.rows[0:50]}  # in no group
    with pytest.raises(Conflict):
        selectors.exposure_rows(user=staff.statistician, site="BAL")
    assert len(selectors.exposure_rows(user=staff.statistician, group=g1)) == 6
    body = api_client(staff.coordinator).get("/api/v1/exposure/").json()
    assert body["itt_available"] is False and body["overall"] is None and body["sites"] == []
    assert body["groups"]["count"] == 1  # the BAL coordinator's own group only
    assert api_client(staff.instructor).get(f"/api/v1/groups/{g1.pk}/exposure/").status_code == 200


def test_the_summary_of_nobody_has_no_mean_and_no_sd() -> None:
    empty = exposure.summarise("none", [])
    assert (empty.participants, empty.mean_sessions, empty.sd_sessions, empty.share_none) == (
        0,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("sessions", "category"),
    [(0, "0"), (1, "1-10"), (10, "1-10"), (11, "11-20"), (20, "11-20"), (21, ">20"), (39, ">20")],
)
def test_the_attendance_categories_have_the_papers_boundaries(sessions: int, category: str) -> None:
    assert exposure.category_of(sessions) == category
