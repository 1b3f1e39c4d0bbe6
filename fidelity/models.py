"""IMR delivery: groups, their members and sessions, attendance, and fidelity ratings.

Everything here reveals the IMR arm, so it exists only for users who may see allocation
(trial.access.may_see_allocation); see fidelity/permissions.py. Reverse relations from other
apps' models are switched off (`related_name="+"`) so nothing generic that walks a participant
or a site can stumble onto IMR data."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fidelity import scale
from fidelity.scale import Module
from trial.lock import refuse_when_locked

# A group is "about ten" participants (paper: closed-enrolment groups of ten).
DEFAULT_CAPACITY = 10
MAX_CAPACITY = 15
# Two or three instructors run a group (paper, "The IMR program").
MIN_INSTRUCTORS = 2
MAX_INSTRUCTORS = 3


def _integrity_trigger(name: str, condition: str, message: str) -> pgtrigger.Trigger:
    """A BEFORE INSERT/UPDATE trigger that refuses a row unless `condition` holds: the backstop
    under the services, so the admin shell or raw SQL cannot break the rule either."""
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update,
        func=f"""
            IF NOT ({condition}) THEN
                RAISE EXCEPTION '{message}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        """,
    )


@pghistory.track()
class ImrGroup(models.Model):
    """A closed-enrolment IMR group at one site, run weekly for about nine months."""

    site = models.ForeignKey("trial.Site", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    start_date = models.DateField()
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_CAPACITY)
    # Closed enrolment: once the instructors close the group, nobody joins any more.
    enrolment_closed = models.BooleanField(default=False)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="GroupInstructor", related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site__number", "start_date", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="one_group_name_per_site"),
            models.CheckConstraint(
                condition=Q(capacity__gte=1, capacity__lte=MAX_CAPACITY),
                name="group_capacity_1_to_15",
            ),
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return self.name


@pghistory.track()
class GroupInstructor(models.Model):
    group = models.ForeignKey(ImrGroup, on_delete=models.CASCADE, related_name="instructor_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="one_link_per_instructor")
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.user_id} instructs {self.group_id}"


@pghistory.track()
class GroupMembership(models.Model):
    """A participant randomised to IMR placed in a group of their own site. A participant is
    offered one course, so belongs to at most one group."""

    group = models.ForeignKey(ImrGroup, on_delete=models.PROTECT, related_name="memberships")
    participant = models.OneToOneField(
        "participants.Participant", on_delete=models.PROTECT, related_name="+"
    )
    joined_on = models.DateField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group_id", "participant__number"]
        triggers = [
            refuse_when_locked(during_freeze=True),
            _integrity_trigger(
                "imr_arm_same_site_only",
                """EXISTS (
                    SELECT 1 FROM randomization_allocation a
                    JOIN participants_participant p ON p.id = a.participant_id
                    JOIN fidelity_imrgroup g ON g.id = NEW.group_id
                    WHERE a.participant_id = NEW.participant_id
                      AND a.arm = 'IMR' AND p.site_id = g.site_id)""",
                "Only a participant randomised to IMR at the group''s site can be a member.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} in group {self.group_id}"


class SessionStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


@pghistory.track()
class GroupSession(models.Model):
    """One weekly session of a group: its date, the module taught and who ran it. A session is
    `held` once attendance is recorded; a cancelled one stays in the schedule, marked."""

    group = models.ForeignKey(ImrGroup, on_delete=models.PROTECT, related_name="sessions")
    date = models.DateField()
    module = models.PositiveSmallIntegerField(choices=Module.choices)
    status = models.CharField(
        max_length=9, choices=SessionStatus.choices, default=SessionStatus.PLANNED
    )
    cancel_reason = models.TextField(blank=True)
    instructors_present = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="SessionInstructor", related_name="+"
    )
    # Bumped at every attendance save: a second device saving a stale list gets 409.
    attendance_version = models.PositiveIntegerField(default=0)
    attendance_recorded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group_id", "date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "date"],
                condition=~Q(status="cancelled"),
                name="one_session_per_group_and_day",
            ),
            models.CheckConstraint(
                condition=Q(module__gte=1, module__lte=len(Module)), name="module_1_to_11"
            ),
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.group} {self.date:%Y-%m-%d} module {self.module}"

    @property
    def module_name(self) -> str:
        return scale.module_name(self.module)


@pghistory.track()
class SessionInstructor(models.Model):
    session = models.ForeignKey(
        GroupSession, on_delete=models.CASCADE, related_name="instructor_links"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], name="one_link_per_session_instructor"
            )
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.user_id} ran session {self.session_id}"


@pghistory.track()
class Attendance(models.Model):
    """Whether one member came to one session. Every member of the group gets a row when the
    session's attendance is saved; corrections update the row, and pghistory keeps the old
    value, who changed it and the reason."""

    session = models.ForeignKey(GroupSession, on_delete=models.PROTECT, related_name="attendance")
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="+"
    )
    present = models.BooleanField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["session_id", "participant__number"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "participant"], name="one_attendance_per_member_and_session"
            )
        ]
        triggers = [
            refuse_when_locked(during_freeze=True),
            _integrity_trigger(
                "members_only",
                """EXISTS (
                    SELECT 1 FROM fidelity_groupmembership m
                    JOIN fidelity_groupsession s ON s.group_id = m.group_id
                    WHERE s.id = NEW.session_id AND m.participant_id = NEW.participant_id)""",
                "Attendance can only be recorded for members of the session''s group.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} at {self.session_id}: {self.present}"


class FidelityTimepoint(models.TextChoices):
    # Paper: rated about four months into the programme and again at the end of each group.
    MIDWAY = "midway", _("Midway (about 4 months)")
    END = "end", _("End of the group")


class RaterKind(models.TextChoices):
    RATER1 = "rater1", _("Rater 1")
    RATER2 = "rater2", _("Rater 2")
    CONSENSUS = "consensus", _("Consensus")


INDEPENDENT_KINDS = (RaterKind.RATER1, RaterKind.RATER2)


def _items_complete_and_in_range() -> Q:
    condition = Q(items__has_keys=list(scale.ITEM_CODES))
    for code in scale.ITEM_CODES:
        condition &= Q(**{f"items__{code}__gte": scale.ITEM_MIN})
        condition &= Q(**{f"items__{code}__lte": scale.ITEM_MAX})
    return condition


@pghistory.track()
class FidelityRating(models.Model):
    """One IMR Fidelity Scale rating of a group at a timepoint: rater 1's and rater 2's
    independent ratings, then the consensus the two reach (paper, "IMR Fidelity scale")."""

    group = models.ForeignKey(ImrGroup, on_delete=models.PROTECT, related_name="fidelity_ratings")
    timepoint = models.CharField(max_length=6, choices=FidelityTimepoint.choices)
    rater_kind = models.CharField(max_length=9, choices=RaterKind.choices)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    items = models.JSONField(help_text="FID_1..FID_13, each 1–5")
    rated_on = models.DateField(help_text="Day of the fidelity assessment")
    notes = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group_id", "timepoint", "rater_kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "timepoint", "rater_kind"], name="one_rating_per_kind"
            ),
            models.CheckConstraint(
                condition=_items_complete_and_in_range(), name="all_13_items_rated_1_to_5"
            ),
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.group} {self.timepoint} {self.rater_kind}"

    @property
    def total(self) -> int | None:
        return scale.total(self.items)

    @property
    def score(self) -> float | None:
        return scale.mean(self.items)

    @property
    def band(self) -> str | None:
        found = scale.band_of_total(self.total)
        return found.value if found else None
