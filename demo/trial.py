"""A small, believable trial for the demo, made through the real services: allocation lists
for the three sites, ten people per site in every status, their forms, two open queries, an
IMR group per site meeting weekly with attendance, a fidelity rating pair and consensus, an
unblinding report.

Everything happens in the order it would in a trial, each step on its own day (demo.clock):
registration, screening, consent and the baseline interview a few weeks before
randomisation; randomisation between thirteen months and six weeks ago, so some
post-intervention windows have closed, some are open and some are still ahead; the groups
start about ten months ago. Arms come from the real, concealed lists, so who is in a group is
decided at the time, as it would be. Nothing here prints or returns an arm."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from assessments import services as assessment_services
from assessments.models import InstrumentResponse, Query, ResponseStatus
from assessments.selectors import baseline_missing
from demo.builders import ELIGIBLE_ANSWERS
from demo.clock import moment, running_on
from demo.values import form_items
from fidelity import scale
from fidelity import services as fidelity_services
from fidelity.models import GroupSession, ImrGroup, SessionStatus
from fidelity.services.sessions import weekly_plan
from instruments import registry
from participants import services as participant_services
from participants.models import CLOSED_STATUSES, Participant, Status
from randomization import services as randomization_services
from randomization.models import Allocation, AllocationList, Arm, UnblindingIncident
from trial.models import Site

SITES = ("BAL", "GLA", "FRB")
# Slots per site: the trial planned 198 participants over three sites.
SLOTS_PER_SITE = 70
# The demo's lists come from the real generator with this published seed (a real trial draws
# one with `secrets`), so every demo machine has the same arms: both arms at every site, and
# members for every site's group. It conceals nothing: demo data only.
DEMO_SEED = 0xE26ABD3BDA0669205272147F1034CA0C
ELIGIBLE = ELIGIBLE_ANSWERS
# Why the three people who were screened out were not eligible (one per site).
INELIGIBLE_ANSWERS = (
    {"danish_fluent": False},
    {"diagnosis": "other"},
    {"active_substance_use_disorder": True},
)
# The baseline forms, by who enters them (the assessor rates and records the self-reports).
ASSESSOR_FORMS = ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS")
POST_FORMS = ("GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS", "CSQ8")
CLINICIAN_FORM = "IMRS_C"
# Randomisation days before today, per site: the first ones over a year ago (post-intervention
# done or overdue), then open windows, then recent ones whose window is still ahead.
RANDOMIZED_DAYS_AGO = (390, 350, 318, 288, 110, 45)
GROUP_STARTS_DAYS_AGO = 300
# How regularly each member comes (share of sessions), in the order they join.
ATTENDANCE_RATES = (0.9, 0.7, 0.45, 0.0, 0.8)


@dataclass
class Person:
    site: str
    cpr: str
    sex: str
    stage: str  # registered | ineligible | eligible | consented | randomised
    registered_days_ago: int
    diagnosis: str = "F20"
    ineligible: dict[str, Any] = field(default_factory=dict)
    post_done: bool = False
    # A consented person whose baseline is complete: a new user can randomise them at once.
    baseline_done: bool = False
    ends: tuple[str, int, str] | None = None  # (status, days ago, reason)
    participant: Participant | None = None


@dataclass
class Staff:
    coordinator: Any
    assessor: Any
    clinician: Any
    instructors: list[Any]
    raters: list[Any]
    data_manager: Any
    statistician: Any
    monitor: Any


@dataclass
class Summary:
    lists: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    forms: Counter[str] = field(default_factory=Counter)
    groups: list[str] = field(default_factory=list)
    sessions_held: int = 0
    open_queries: int = 0
    fidelity: str = ""
    unblinding_reports: int = 0
    ready_to_randomize: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        by_status = ", ".join(
            f"{self.statuses[s]} {Status(s).label.lower()}"
            for s in Status.values
            if s in self.statuses
        )
        return [
            f"Allocation lists: {'; '.join(self.lists)}",
            f"Participants: {sum(self.statuses.values())} at BAL, GLA and FRB ({by_status})",
            f"Forms: {self.forms['baseline']} baseline, {self.forms['post']} post-intervention "
            f"({self.forms['verified']} source-verified)",
            f"Queries: {self.open_queries} open",
            f"IMR groups: {', '.join(self.groups)}; {self.sessions_held} sessions held with "
            "attendance",
            f"Fidelity: {self.fidelity}",
            f"Unblinding reports: {self.unblinding_reports}",
            "Ready to randomise (consented, baseline complete): "
            + (", ".join(self.ready_to_randomize) or "nobody"),
        ]


def plan(today: date) -> list[Person]:
    """Ten people per site. CPR numbers are made up (born 1958–1994, valid dates)."""
    people: list[Person] = []
    for s, site in enumerate(SITES):

        def cpr(n: int, s: int = s) -> str:
            born = date(1958 + (7 * n + 11 * s) % 37, 1 + (n + 4 * s) % 12, 1 + (3 * n + s) % 28)
            return f"{born:%d%m%y}-{(s + 1)}{n:02d}{(n * 7 + s) % 10}"

        def sex(n: int, s: int = s) -> str:
            return "female" if (n + s) % 2 else "male"

        for n, days_ago in enumerate(RANDOMIZED_DAYS_AGO):
            person = Person(
                site,
                cpr(n),
                sex(n),
                "randomised",
                days_ago + 16,
                diagnosis="F31" if (n + s) % 3 == 0 else "F20",
                # Post-intervention done for the two earliest (and the third at FRB).
                post_done=n < 2 or (site == "FRB" and n == 2),
            )
            people.append(person)
        # Endings: withdrawal (coordinator) and loss to follow-up (data manager).
        if site == "BAL":
            people[-3].ends = ("withdrawn", 200, "No longer wishes to take part (no reason given).")
            people[-5].post_done = False
            people[-5].ends = ("lost_to_follow_up", 90, "Moved abroad; no contact since.")
        elif site == "GLA":
            people[-5].post_done = False
            people[-5].ends = ("lost_to_follow_up", 150, "No answer to letters or calls.")
        else:
            people[-2].ends = ("withdrawn", 60, "Finds the interviews too demanding.")
        people.append(
            Person(
                site, cpr(6), sex(6), "consented", 12, diagnosis="F31", baseline_done=site == "BAL"
            )
        )
        people.append(Person(site, cpr(7), sex(7), "eligible", 9))
        people.append(
            Person(site, cpr(8), sex(8), "ineligible", 30, ineligible=INELIGIBLE_ANSWERS[s])
        )
        people.append(Person(site, cpr(9), sex(9), "registered", 2))
    return people


Step = tuple[datetime, int, Callable[[], None]]


class TrialBuilder:
    def __init__(self, staff: Staff, today: date) -> None:
        self.staff = staff
        self.today = today
        self.people = plan(today)
        self.summary = Summary()
        self.steps: list[Step] = []
        self.groups: dict[str, ImrGroup] = {}
        self.members: dict[str, list[Person]] = {site: [] for site in SITES}

    # -- scheduling ------------------------------------------------------------------------
    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, days_ago: int, action: Callable[[], None], hour: int = 10) -> None:
        when = moment(self.day(days_ago), hour)
        self.steps.append((when, len(self.steps), action))

    def build(self) -> Summary:
        self.generate_lists()
        for person in self.people:
            self.schedule_person(person)
        for site in SITES:
            self.schedule_group(site)
        self.schedule_queries_and_reports()
        for when, _order, action in sorted(self.steps, key=lambda step: step[:2]):
            with running_on(when):
                action()
        self.count()
        return self.summary

    # -- allocation lists ------------------------------------------------------------------
    def generate_lists(self) -> None:
        """The statistician's lists for the sites that have none (a developer may already have
        generated some: they are used as they are)."""
        missing = [
            code for code in SITES if not AllocationList.objects.filter(site__code=code).exists()
        ]
        if missing:
            randomization_services.allocation_lists_generate(
                per_site=SLOTS_PER_SITE,
                site_codes=missing,
                user=self.staff.statistician,
                channel="cli",
                randbits=lambda bits: DEMO_SEED,
            )
        for allocation_list in AllocationList.objects.select_related("site").order_by(
            "site__number", "version"
        ):
            self.summary.lists.append(
                f"{allocation_list.site.code} v{allocation_list.version} "
                f"({allocation_list.length} slots, SHA-256 {allocation_list.sha256[:12]}…)"
            )

    # -- one person ------------------------------------------------------------------------
    def schedule_person(self, person: Person) -> None:
        registered = person.registered_days_ago
        self.at(registered, lambda: self.register(person), hour=9)
        if person.stage == "registered":
            return
        self.at(registered - 1, lambda: self.screen(person), hour=11)
        if person.stage in ("ineligible", "eligible"):
            return
        self.at(registered - 5, lambda: self.consent(person), hour=13)
        self.at(registered - 8, lambda: self.baseline(person), hour=10)
        if person.stage == "consented":
            return
        randomized = registered - 16
        self.at(randomized, lambda: self.randomize(person), hour=14)
        # IMR participants join their site's group a few days after randomisation, or when it
        # is set up if they were randomised before.
        self.at(min(randomized - 4, GROUP_STARTS_DAYS_AGO + 20), lambda: self.join_group(person))
        if person.post_done:
            # The post-intervention interview about nine months after randomisation.
            self.at(randomized - 274, lambda: self.post(person), hour=10)
        if person.ends is not None:
            status, days_ago, reason = person.ends
            self.at(days_ago, lambda: self.end(person, status, reason), hour=15)

    def register(self, person: Person) -> None:
        person.participant = participant_services.participant_register(
            user=self.staff.coordinator, site_code=person.site, cpr=person.cpr, sex=person.sex
        )

    def screen(self, person: Person) -> None:
        answers = dict(ELIGIBLE, diagnosis=person.diagnosis) | person.ineligible
        participant_services.participant_screen(
            user=self.staff.coordinator, participant=self.participant(person), answers=answers
        )

    def consent(self, person: Person) -> None:
        participant_services.participant_record_consent(
            user=self.staff.coordinator,
            participant=self.participant(person),
            consent_date=timezone.localdate(),
        )

    def baseline(self, person: Person) -> None:
        participant = self.participant(person)
        rng = random.Random(f"{person.cpr}-baseline")
        forms: tuple[str, ...] = ASSESSOR_FORMS
        in_progress = person.stage == "consented" and not person.baseline_done
        if in_progress:
            # Still in progress: part of the interview done, PANSS saved as a draft.
            forms = ("DEMOG", "GAF", "PSP")
            self.save(participant, "baseline", "PANSS", self.staff.assessor, rng, draft=True)
        for code in forms:
            self.save(participant, "baseline", code, self.staff.assessor, rng)
        if not in_progress:
            self.save(participant, "baseline", CLINICIAN_FORM, self.staff.clinician, rng)

    def save(
        self,
        participant: Participant,
        timepoint: str,
        code: str,
        user: Any,
        rng: random.Random,
        *,
        draft: bool = False,
    ) -> InstrumentResponse:
        items = form_items(code, rng, diagnosis=self.screened_diagnosis(participant))
        if draft:
            items = dict(list(items.items())[: len(items) // 2])
        return assessment_services.response_save(
            user=user,
            participant=participant,
            timepoint=timepoint,
            code=code,
            items=items,
            status=ResponseStatus.DRAFT if draft else ResponseStatus.COMPLETE,
            interview_date=timezone.localdate(),
        ).response

    def randomize(self, person: Person) -> None:
        randomization_services.participant_randomize(
            participant=self.participant(person), user=self.staff.coordinator
        )

    def join_group(self, person: Person) -> None:
        """IMR participants randomised before a group's enrolment closes join it; later ones
        wait for the site's next group (not started yet)."""
        participant = self.participant(person)
        group = self.groups.get(person.site)
        if group is None or group.enrolment_closed:
            return
        if not Allocation.objects.filter(participant=participant, arm=Arm.IMR).exists():
            return
        fidelity_services.membership_add(
            user=self.staff.coordinator, group=group, participant_id=participant.pk
        )
        self.members[person.site].append(person)

    def post(self, person: Person) -> None:
        participant = self.participant(person)
        if participant.status != Status.RANDOMIZED:
            return
        rng = random.Random(f"{person.cpr}-post")
        for code in POST_FORMS:
            self.save(participant, "post", code, self.staff.assessor, rng)
        self.save(participant, "post", CLINICIAN_FORM, self.staff.clinician, rng)
        # The assessor's guess of the arm after the interview (mostly "don't know").
        randomization_services.blinding_guess_record(
            user=self.staff.assessor,
            participant=participant,
            timepoint="post",
            guess=rng.choice(["dont_know", "dont_know", "dont_know", "IMR", "TAU"]),
        )

    def end(self, person: Person, status: str, reason: str) -> None:
        user = self.staff.coordinator if status == Status.WITHDRAWN else self.staff.data_manager
        participant_services.participant_close(
            user=user,
            participant=self.participant(person),
            status=status,
            on=timezone.localdate(),
            reason=reason,
        )

    # -- IMR groups --------------------------------------------------------------------------
    def schedule_group(self, site: str) -> None:
        start = self.day(GROUP_STARTS_DAYS_AGO)
        self.at(GROUP_STARTS_DAYS_AGO + 21, lambda: self.create_group(site, start), hour=12)
        # Enrolment closes once the group has run for six weeks (closed groups).
        self.at(GROUP_STARTS_DAYS_AGO - 42, lambda: self.close_enrolment(site), hour=16)
        for number, (day, _module) in enumerate(weekly_plan(start)):
            days_ago = (self.today - day).days
            if days_ago < 0:
                break
            if number == 12:
                # One week off (the centre is closed for a holiday): the session is cancelled.
                self.at(days_ago + 10, partial(self.cancel, site, day), hour=12)
                continue
            self.at(days_ago, partial(self.attendance, site, day), hour=17)
        if site == "BAL":
            self.at(GROUP_STARTS_DAYS_AGO - 122, lambda: self.fidelity(site), hour=15)

    def create_group(self, site: str, start: date) -> None:
        names = {"BAL": "Ballerup", "GLA": "Gladsaxe", "FRB": "Frederiksberg"}
        group = fidelity_services.group_create(
            user=self.staff.coordinator,
            site_code=site,
            name=f"{names[site]} IMR group 1",
            start_date=start,
            instructors=[u.pk for u in self.staff.instructors],
        )
        fidelity_services.schedule_generate(user=self.staff.instructors[0], group=group)
        self.groups[site] = group

    def close_enrolment(self, site: str) -> None:
        group = self.groups[site]
        self.groups[site] = fidelity_services.group_update(
            user=self.staff.instructors[0],
            group=group,
            enrolment_closed=True,
            reason="Closed enrolment after six weeks",
        )

    def session_on(self, site: str, day: date) -> GroupSession:
        return GroupSession.objects.get(group=self.groups[site], date=day)

    def cancel(self, site: str, day: date) -> None:
        fidelity_services.session_cancel(
            user=self.staff.instructors[0],
            session=self.session_on(site, day),
            reason="Holiday week: the centre is closed.",
        )

    def attendance(self, site: str, day: date) -> None:
        session = self.session_on(site, day)
        if session.status == SessionStatus.CANCELLED:
            return
        present = []
        for index, person in enumerate(self.members[site]):
            participant = self.participant(person)
            if participant.status in CLOSED_STATUSES:
                continue  # withdrawn or lost: no longer comes
            rate = ATTENDANCE_RATES[index % len(ATTENDANCE_RATES)]
            rng = random.Random(f"{person.cpr}-{day}")
            if rng.random() < rate:
                present.append(participant.pk)
        fidelity_services.attendance_record(
            user=self.staff.instructors[day.toordinal() % 2],
            session=session,
            present=present,
            instructors_present=[u.pk for u in self.staff.instructors],
        )

    def fidelity(self, site: str) -> None:
        group = self.groups[site]
        rng = random.Random(f"fidelity-{site}")
        first = {code: rng.choice([3, 4, 4, 5]) for code in scale.ITEM_CODES}
        second = {
            code: max(1, min(5, value + rng.choice([0, 0, 0, 1, -1])))
            for code, value in first.items()
        }
        for rater, kind, items in zip(
            self.staff.raters, ("rater1", "rater2"), (first, second), strict=True
        ):
            fidelity_services.rating_submit(
                user=rater, group=group, timepoint="midway", rater_kind=kind, items=items
            )
        consensus = {code: max(first[code], second[code]) for code in scale.ITEM_CODES}
        fidelity_services.rating_submit(
            user=self.staff.raters[0],
            group=group,
            timepoint="midway",
            rater_kind="consensus",
            items=consensus,
            notes="Agreed at the consensus meeting after both ratings.",
        )
        self.summary.fidelity = (
            f"{group.name}: midway ratings by two raters and the consensus "
            f"(score {scale.mean(consensus):.1f})"
        )

    # -- data management ---------------------------------------------------------------------
    def schedule_queries_and_reports(self) -> None:
        self.at(80, self.report_unblinding, hour=16)
        self.at(3, self.verify_and_query, hour=11)

    def report_unblinding(self) -> None:
        person = next(p for p in self.people if p.site == "GLA" and p.stage == "randomised")
        randomization_services.unblinding_incident_report(
            user=self.staff.assessor,
            learned_on=timezone.localdate() - timedelta(days=1),
            how="participant_told",
            description="The participant talked about their treatment during the interview.",
            participant=self.participant(person),
        )

    def verify_and_query(self) -> None:
        # (Blinded monitors cannot verify the clinician's IMRS, which they may not read.)
        done = list(
            InstrumentResponse.objects.filter(
                participant__site__code="BAL", status=ResponseStatus.COMPLETE
            )
            .exclude(instrument__in=[i.code for i in registry.all() if not i.blinded_readable])
            .order_by("participant__number", "id")
        )
        for response in done[:6]:
            assessment_services.response_verify(
                user=self.staff.monitor, response=response, version=response.version
            )
        posts = list(
            InstrumentResponse.objects.filter(timepoint="post", instrument__in=["PANSS", "HAMD6"])
            .select_related("participant")
            .order_by("participant__site__number", "participant__number", "instrument")
        )
        questions = {
            "PANSS": ("P3", "P3 (hallucinatory behaviour) is higher than at baseline while "
                      "the notes describe no hallucinations: please check against the source."),
            "HAMD6": ("interview_date", "Please confirm the interview date against the "
                      "appointment letter."),
        }  # fmt: skip
        for response in posts[:2]:
            item, message = questions[response.instrument]
            assessment_services.query_raise(
                user=self.staff.data_manager, response=response, item=item, message=message
            )

    # -- helpers -----------------------------------------------------------------------------
    def participant(self, person: Person) -> Participant:
        """The person's participant as the database has it now (services change the status)."""
        assert person.participant is not None, "registered in an earlier step"
        person.participant.refresh_from_db()
        return person.participant

    def screened_diagnosis(self, participant: Participant) -> str:
        screening = participant.screenings.order_by("-screened_at", "-id").first()
        return screening.diagnosis if screening is not None else "F20"

    def count(self) -> None:
        ids = [self.participant(p).pk for p in self.people]
        self.summary.statuses = Counter(
            dict(
                Participant.objects.filter(pk__in=ids)
                .values("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
        )
        responses = InstrumentResponse.objects.filter(participant_id__in=ids)
        self.summary.forms = Counter(
            baseline=responses.filter(timepoint="baseline", status__in=DONE).count(),
            post=responses.filter(timepoint="post", status__in=DONE).count(),
            verified=responses.filter(status=ResponseStatus.VERIFIED).count(),
        )
        self.summary.open_queries = Query.objects.filter(
            response__participant_id__in=ids, status="open"
        ).count()
        self.summary.groups = [g.name for g in self.groups.values()]
        self.summary.sessions_held = GroupSession.objects.filter(
            group__in=list(self.groups.values()), status=SessionStatus.HELD
        ).count()
        self.summary.unblinding_reports = UnblindingIncident.objects.filter(
            participant_id__in=ids
        ).count()
        self.summary.ready_to_randomize = [
            participant.study_id
            for participant in Participant.objects.filter(pk__in=ids, status=Status.CONSENTED)
            .select_related("site")
            .order_by("site__number", "study_id")
            if not baseline_missing(participant)
        ]


DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)


def demo_staff() -> Staff:
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="demo-")}
    return Staff(
        coordinator=users["demo-coordinator"],
        assessor=users["demo-assessor"],
        clinician=users["demo-clinician"],
        instructors=[users["demo-instructor"], users["demo-instructor-2"]],
        raters=[users["demo-fidelity-rater"], users["demo-fidelity-rater-2"]],
        data_manager=users["demo-data-manager"],
        statistician=users["demo-statistician"],
        monitor=users["demo-monitor"],
    )


def existing_trial() -> str:
    """Why no demo trial is added, or "" when the trial database is empty."""
    count = Participant.objects.count()
    if count:
        return (
            f"The trial database already holds {count} participants: the demo trial is added "
            "only to an empty trial (it is left as it is)."
        )
    if Site.objects.filter(code__in=SITES).count() != len(SITES):
        return "Run `manage.py setup_trial` first: the sites are missing."
    return ""


def build_demo_trial(today: date | None = None) -> Summary:
    """Create the demo trial in one transaction (all of it or nothing)."""
    with transaction.atomic():
        return TrialBuilder(demo_staff(), today or timezone.localdate()).build()
