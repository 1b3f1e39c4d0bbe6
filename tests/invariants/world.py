"""One small trial with something at every stage, built once per test module through the real
services, so that every write endpoint and form page has a real object to act on and a user
who may act (a refusal then means "bad input", not "no such object" or "not your role").

`row_counts()` counts the rows of every table the project writes (trial data, pghistory event
tables, the audit context), for "bad input writes nothing" (DESIGN.md invariant 6)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from accounts import twofactor
from fidelity import scale
from fidelity import services as fidelity_services
from participants import services as participant_services
from tests.factories import (
    ELIGIBLE_ANSWERS,
    allocate,
    complete_baseline,
    enrol_totp,
    give_password,
    imr_participant,
    make_imr_group,
    make_participant,
    make_staff,
    unique_cpr,
)
from trial.access import needs_two_factor
from trial.roles import Role

# The apps whose tables hold trial data, accounts and their audit trails.
PROJECT_APPS = (
    "trial",
    "accounts",
    "participants",
    "randomization",
    "assessments",
    "casebooks",
    "fidelity",
    "exports",
)

# Tables a refused request may still write, on purpose: each is a security or randomisation log
# whose rule is to record refusals too. Everything else must be unchanged after bad input.
LOGS_OF_REFUSALS = {
    # RANDOMISATION.md §4, "Audit": every refusal (ineligible, duplicate, invalid...) is logged.
    "randomization.RandomizationLogEntry",
    # Failed logins and wrong codes are security events (docs/reference.md, "Accounts and
    # security").
    "accounts.AuthEvent",
    # An exhausted allocation list is a refusal that alerts the statisticians: the alert's task
    # is written to the outbox with the log entry (randomization.services.allocation).
    "trial.OutboxMessage",
    # django-axes counts failed logins (the lockout).
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
}


def counted_models() -> list[Any]:
    """Every concrete table of the project apps (their pghistory event models included), the
    pghistory context table, Django's users and the OTP devices; less the logs of refusals."""
    models = [
        model
        for model in apps.get_models()
        if (
            model._meta.app_label in (*PROJECT_APPS, "pghistory", "auth", "otp_totp")
            and not model._meta.proxy
            and model._meta.managed
            and model._meta.label not in LOGS_OF_REFUSALS
        )
    ]
    return sorted(models, key=lambda m: m._meta.db_table)


def row_counts() -> dict[str, int]:
    """Rows per table, in one query."""
    models = counted_models()
    quoted = [connection.ops.quote_name(m._meta.db_table) for m in models]
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {q})" for q in quoted)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        values = cursor.fetchone()
    return {m._meta.label: n for m, n in zip(models, values, strict=True)}


def changed_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a savepoint that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass
class Trial:
    today: date
    users: dict[str, Any]
    registered: Any  # registered at BAL: screen them
    eligible: Any  # eligible at BAL: record consent
    randomizable: Any  # consented, baseline complete, BAL has a list
    consented: Any  # consented, nothing entered yet
    consented_cpr: str  # for register files
    rated: Any  # consented with a complete baseline GAF
    response: Any  # that GAF
    open_query: Any
    closed_query: Any
    member: Any  # randomised to IMR, in the group, attended the held session
    candidate: Any  # randomised to IMR, in no group
    removable: Any  # randomised to IMR, in the second group, attended nothing
    tau: Any  # randomised to TAU
    group: Any
    empty_group: Any  # no sessions yet
    held: Any
    planned: Any
    rating: Any  # rater 1's midway rating of the group
    extras: dict[str, Any] = field(default_factory=dict)

    def user(self, role: str) -> Any:
        return self.users[role]


def build_trial() -> Trial:
    call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
    today = timezone.localdate()
    users = {
        Role.COORDINATOR: make_staff("inv-coordinator", Role.COORDINATOR, sites=["BAL"]),
        Role.ASSESSOR: make_staff("inv-assessor", Role.ASSESSOR, sites=["BAL"]),
        Role.CLINICIAN: make_staff("inv-clinician", Role.CLINICIAN, sites=["BAL"]),
        Role.INSTRUCTOR: make_staff("inv-instructor", Role.INSTRUCTOR, sites=["BAL"]),
        "instructor2": make_staff("inv-instructor2", Role.INSTRUCTOR, sites=["BAL"]),
        Role.FIDELITY_RATER: make_staff("inv-rater", Role.FIDELITY_RATER),
        "rater2": make_staff("inv-rater2", Role.FIDELITY_RATER),
        Role.DATA_MANAGER: make_staff("inv-dm", Role.DATA_MANAGER),
        Role.STATISTICIAN: make_staff("inv-stat", Role.STATISTICIAN),
        Role.MONITOR: make_staff("inv-monitor", Role.MONITOR),
        Role.INVESTIGATOR: make_staff("inv-investigator", Role.INVESTIGATOR, sites=["BAL"]),
        Role.ADMIN: make_staff("inv-admin", Role.ADMIN),
    }
    give_password(users[Role.COORDINATOR])
    for user in users.values():
        # The second factor of the roles that need one, enrolled now rather than by the first
        # page client (tests.factories.verify_session), which would add a row mid-test.
        if needs_two_factor(user):
            enrol_totp(user)
    coordinator = users[Role.COORDINATOR]
    assessor = users[Role.ASSESSOR]
    data_manager = users[Role.DATA_MANAGER]

    from randomization.services import allocation_lists_generate

    allocation_lists_generate(per_site=30, site_codes=["BAL"], user=None, channel="cli")

    registered = make_participant("BAL", stage="registered", user=coordinator)
    eligible = make_participant("BAL", stage="eligible", user=coordinator)
    randomizable = make_participant("BAL", stage="consented", user=coordinator)
    complete_baseline(randomizable, user=assessor)

    consented_cpr = unique_cpr()
    consented = participant_services.participant_register(
        user=coordinator, site_code="BAL", cpr=consented_cpr, sex="male"
    )
    participant_services.participant_screen(
        user=coordinator, participant=consented, answers=dict(ELIGIBLE_ANSWERS)
    )
    participant_services.participant_record_consent(
        user=coordinator, participant=consented, consent_date=today
    )

    from assessments import services as assessment_services

    rated = make_participant("BAL", stage="consented", user=coordinator)
    response = assessment_services.response_save(
        user=assessor,
        participant=rated,
        timepoint="baseline",
        code="GAF",
        items={"GAF_S": 55, "GAF_F": 60},
        status="complete",
    ).response
    open_query = assessment_services.query_raise(
        user=data_manager, response=response, item="GAF_S", message="Please check the source."
    )
    closed_query = assessment_services.query_raise(
        user=data_manager, response=response, item="GAF_F", message="Please check this too."
    )
    assessment_services.query_close(user=data_manager, query=closed_query, text="Fine.")

    nine_months_ago = today - timedelta(days=275)
    member = imr_participant("BAL", randomized_on=nine_months_ago)
    candidate = imr_participant("BAL", randomized_on=nine_months_ago)
    removable = imr_participant("BAL", randomized_on=nine_months_ago)
    tau = make_participant("BAL", user=coordinator)
    allocate(tau, "TAU")

    instructors = [users[Role.INSTRUCTOR], users["instructor2"]]
    group = make_imr_group(
        "BAL",
        name="Tuesday group",
        start_date=today - timedelta(days=7),
        user=coordinator,
        instructors=instructors,
    )
    fidelity_services.membership_add(user=coordinator, group=group, participant_id=member.pk)
    held = fidelity_services.session_add(
        user=users[Role.INSTRUCTOR], group=group, date=today, module=1
    )
    fidelity_services.attendance_record(
        user=users[Role.INSTRUCTOR], session=held, present=[member.pk]
    )
    planned = fidelity_services.session_add(
        user=users[Role.INSTRUCTOR], group=group, date=today + timedelta(days=7), module=2
    )
    empty_group = make_imr_group(
        "BAL",
        name="Thursday group",
        start_date=today + timedelta(days=14),
        user=coordinator,
        instructors=instructors,
    )
    fidelity_services.membership_add(
        user=coordinator, group=empty_group, participant_id=removable.pk
    )
    rating = fidelity_services.rating_submit(
        user=users[Role.FIDELITY_RATER],
        group=group,
        timepoint="midway",
        rater_kind="rater1",
        items={code: 4 for code in scale.ITEM_CODES},
    )
    from exports.services import export_request
    from randomization.models import AllocationList

    unverified = make_staff("inv-dm-unverified", Role.DATA_MANAGER)
    enrol_totp(unverified)
    extras = {
        "export": export_request(user=data_manager, formats=["csv"], blinded=True),
        "allocation_list": AllocationList.objects.get(site__code="BAL", version=1),
        # Data managers who logged in with the password only: one with a device, one without.
        "unverified": unverified,
        "unenrolled": make_staff("inv-dm-unenrolled", Role.DATA_MANAGER),
    }
    # The enrolment page shows (and on first sight makes) one pending device until it is
    # confirmed; make it now, as the first visit would.
    twofactor.pending_device(extras["unenrolled"])
    return Trial(
        extras=extras,
        today=today,
        users=users,
        registered=registered,
        eligible=eligible,
        randomizable=randomizable,
        consented=consented,
        consented_cpr=consented_cpr,
        rated=rated,
        response=response,
        open_query=open_query,
        closed_query=closed_query,
        member=member,
        candidate=candidate,
        removable=removable,
        tau=tau,
        group=group,
        empty_group=empty_group,
        held=held,
        planned=planned,
        rating=rating,
    )
