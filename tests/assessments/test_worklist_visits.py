"""WorklistVisit, the worklist's index: one row per scheduled visit, kept by triggers on the
participants and the visits' progress, in step after every kind of change (services, the ORM,
raw SQL, a rebuild); and the worklist read from it says what the visit windows
(assessments.windows) say, state by state, count by count, page by page."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from assessments import windows
from assessments.models import (
    KEEP_WORKLIST_VISITS_SQL,
    REBUILD_VISIT_PROGRESS_SQL,
    InstrumentResponse,
    VisitProgress,
    WorklistVisit,
)
from assessments.worklist import STATES, _user_forms, closing_counts, worklist_page
from participants.models import Participant
from participants.services import participant_close
from tests.assessments.helpers import put_form, typical_items
from tests.factories import allocate, coordinator_for, make_participant, make_staff
from trial.roles import Role

ASSESSOR_POST_FORMS = ("GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS", "CSQ8")


def visits() -> dict[tuple[int, str], tuple[Any, ...]]:
    return {
        (v.participant_id, v.timepoint): (
            v.site_id,
            v.study_id,
            v.randomized_at,
            v.starts_on,
            v.done_mask,
            v.closes,
            v.all_done,
        )
        for v in WorklistVisit.objects.all()
    }


def randomize_on(participant: Participant, day: date) -> None:
    """Randomised at noon UTC on `day`, consented a week before."""
    allocate(
        participant, "TAU", randomized_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    )
    Participant.objects.filter(pk=participant.pk).update(
        registered_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC) - timedelta(days=14),
        consent_date=day - timedelta(days=7),
    )


def test_a_participants_visits_follow_consent_randomisation_and_closing(sites: dict) -> None:
    registered = make_participant("BAL", stage="registered")
    assert not WorklistVisit.objects.filter(participant=registered).exists()
    participant = make_participant("BAL")  # consented today
    assert visits() == {
        (participant.pk, "baseline"): (
            participant.site_id,
            participant.study_id,
            None,
            timezone.localdate(),
            0,
            None,
            False,
        )
    }
    randomize_on(participant, date(2025, 1, 31))
    rows = visits()
    assert set(rows) == {(participant.pk, t) for t in ("baseline", "post", "followup")}
    # The window ends as windows.window says, month ends included (31 January + 11 months).
    assert rows[(participant.pk, "baseline")][5] == date(2025, 1, 31)
    assert rows[(participant.pk, "post")][5] == date(2025, 12, 31)
    assert rows[(participant.pk, "followup")][5] == date(2027, 1, 31)
    assert {row[3] for row in rows.values()} == {date(2025, 1, 24)}  # the consent date
    # A change by raw SQL is caught as well.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE participants_participant SET randomized_at = %s WHERE id = %s",
            [datetime(2025, 3, 31, 12, tzinfo=UTC), participant.pk],
        )
    assert visits()[(participant.pk, "post")][5] == date(2026, 2, 28)
    participant_close(
        user=coordinator_for("BAL"),
        participant=Participant.objects.get(pk=participant.pk),
        status="withdrawn",
        on=timezone.localdate(),
        reason="Moved away",
    )
    assert visits() == {}


def test_done_forms_reach_the_visit_and_leave_it_again(sites: dict) -> None:
    assessor = make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"])
    clinician = make_staff("clinician-bal", Role.CLINICIAN, sites=["BAL"])
    participant = make_participant("BAL")
    randomize_on(participant, timezone.localdate() - timedelta(days=260))
    for code in ASSESSOR_POST_FORMS:
        assert put_form(assessor, participant, "post", code, typical_items(code)).status_code == 201
    post = WorklistVisit.objects.get(participant=participant, timepoint="post")
    progress = VisitProgress.objects.get(participant=participant, timepoint="post")
    assert post.done_mask == progress.done_mask != 0
    assert not post.all_done  # the clinician's IMRS form is still to do
    assert (
        put_form(clinician, participant, "post", "IMRS_C", typical_items("IMRS_C")).status_code
        == 201
    )
    post.refresh_from_db()
    assert post.all_done
    # A form no longer done (raw SQL, as a bulk correction would) leaves the visit's mask.
    InstrumentResponse.objects.filter(
        participant=participant, timepoint="post", instrument="GAF"
    ).update(status="draft")
    post.refresh_from_db()
    progress.refresh_from_db()
    assert post.done_mask == progress.done_mask
    assert not post.all_done


def test_a_rebuild_gives_the_rows_the_triggers_keep(sites: dict) -> None:
    assessor = make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"])
    waiting = make_participant("BAL")
    randomised = make_participant("GLA")
    randomize_on(randomised, timezone.localdate() - timedelta(days=30))
    put_form(assessor, waiting, "baseline", "GAF", typical_items("GAF"))
    closed = make_participant("BAL")
    participant_close(
        user=coordinator_for("BAL"), participant=closed, status="withdrawn",
        on=timezone.localdate(), reason="Moved away",
    )  # fmt: skip
    kept = visits()
    assert len(kept) == 4 and kept[(waiting.pk, "baseline")][4] != 0
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_VISIT_PROGRESS_SQL)
    assert visits() == kept


def test_the_installed_trigger_is_the_models_text(db: None) -> None:
    """A change to the trigger's text in assessments/models.py needs a migration that installs
    it; this fails until there is one."""
    body = KEEP_WORKLIST_VISITS_SQL.split("$$")[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'assessments_keep_worklist_visits'"
        )
        assert cursor.fetchone() == (body,)


def expected_rows(user: Any, today: date) -> list[tuple[str, str, str, date | None]]:
    """The worklist as the windows say it, worked out in Python from the participants and
    the responses: (study ID, timepoint, state, end of the window), most urgent first."""
    forms: dict[tuple[int, str], set[str]] = {}
    for site_id, timepoint, code in _user_forms(user, ""):
        forms.setdefault((site_id, timepoint), set()).add(code)
    done = {
        (r.participant_id, r.timepoint, r.instrument)
        for r in InstrumentResponse.objects.filter(status__in=("complete", "verified"))
    }
    rows = []
    for participant in Participant.objects.filter(status__in=("consented", "randomized")):
        randomized_on = participant.randomized_on
        for timepoint in ("baseline", "post", "followup"):
            codes = forms.get((participant.site_id, timepoint))
            if not codes or (timepoint != "baseline" and randomized_on is None):
                continue
            window = windows.window(participant, timepoint, randomized_on=randomized_on)
            finished = all((participant.pk, timepoint, code) in done for code in codes)
            rank = ("baseline", "post", "followup").index(timepoint)
            rows.append(
                (
                    window.closes or date.max,
                    participant.study_id,
                    rank,
                    (participant.study_id, timepoint, window.state(done=finished, today=today),
                     window.closes),
                )
            )  # fmt: skip
    return [row[3] for row in sorted(rows)]


def test_the_worklist_says_what_the_windows_say_on_any_day(sites: dict) -> None:
    assessor = make_staff("assessor-two", Role.ASSESSOR, sites=["BAL", "GLA"])
    make_participant("BAL")  # consented, not randomised
    make_participant("BAL", stage="eligible")  # no visits yet
    start = date(2025, 1, 1)
    for i, days in enumerate((0, 30, 58, 59, 120, 240, 301, 365, 400, 455, 500, 640)):
        participant = make_participant("BAL" if i % 2 else "GLA")
        randomize_on(participant, start + timedelta(days=days))
        if i % 3 == 0:
            for code in ASSESSOR_POST_FORMS:
                put_form(assessor, participant, "post", code, typical_items(code))
        if i % 4 == 1:
            put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    future = make_participant("GLA")
    Participant.objects.filter(pk=future.pk).update(consent_date=date(2030, 1, 1))
    seen: set[str] = set()
    for today in (date(2025, 6, 1), date(2026, 1, 31), date(2026, 3, 1), date(2027, 12, 7)):
        expected = expected_rows(assessor, today)
        seen |= {row[2] for row in expected}
        found = worklist_page(user=assessor, today=today)
        got = [(r.study_id, r.timepoint, r.state, r.closes) for r in found.rows]
        assert got == expected, today
        assert found.counts == {s: Counter(row[2] for row in expected)[s] for s in STATES}
        # Page by page, in every state and in each, the same rows in the same order.
        for states in ((), ("due", "open", "overdue"), ("completed",), ("overdue",), ("due",)):
            wanted = [row for row in expected if not states or row[2] in states]
            paged = []
            for offset in range(0, len(wanted) + 3, 3):
                page = worklist_page(
                    user=assessor, states=states, offset=offset, limit=3, today=today
                )
                assert page.count == len(wanted)
                paged += [(r.study_id, r.timepoint, r.state, r.closes) for r in page.rows]
            assert paged == wanted, (today, states)
    assert seen == set(STATES)


def test_windows_ending_this_and_next_week_are_counted_from_the_visits_still_to_do(
    sites: dict,
) -> None:
    assessor = make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"])
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    # Post windows end 11 months after randomisation: pick randomisation days whose post
    # window ends this week (twice, one of them done) and next week (once).
    ends = [monday + timedelta(days=1), monday + timedelta(days=3), monday + timedelta(days=9)]
    participants = []
    for end in ends:
        participant = make_participant("BAL")
        day = windows.add_months(end, -11)
        while windows.add_months(day, 11) < end:
            day += timedelta(days=1)
        randomize_on(participant, day)
        participants.append(participant)
    for code in ASSESSOR_POST_FORMS:
        put_form(assessor, participants[1], "post", code, typical_items(code))
    expected = [
        sum(
            1
            for study_id, timepoint, state, closes in expected_rows(assessor, today)
            if state != "completed" and closes and week <= closes < week + timedelta(days=7)
        )
        for week in (monday, monday + timedelta(days=7))
    ]
    assert closing_counts(user=assessor, weeks=[monday, monday + timedelta(days=7)]) == expected
    assert expected == [1, 1]
