import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from instruments import registry
from participants.models import Status
from trial.lock import refuse_when_locked
from trial.roles import Role


def visit_name(timepoint: str) -> str:
    """The one name of a visit, with its timing, used everywhere (pages, the timeline, the
    audit history, codebooks): "One-year follow-up (21 months after randomisation, window
    19–24)" (the paper's one year after the end of the nine-month programme). The months come
    from settings.ASSESSMENT_WINDOWS, read when the name is shown."""
    if timepoint == "baseline":
        return gettext("Baseline (before randomisation)")
    names = {"post": gettext("Post-intervention"), "followup": gettext("One-year follow-up")}
    window = settings.ASSESSMENT_WINDOWS[timepoint]
    return gettext("%(name)s (%(due)d months after randomisation, window %(opens)d–%(closes)d)") % {
        "name": names[timepoint],
        **window,
    }


visit_label = lazy(visit_name, str)


class Timepoint(models.TextChoices):
    BASELINE = "baseline", visit_label("baseline")
    POST = "post", visit_label("post")
    FOLLOWUP = "followup", visit_label("followup")


class ResponseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    COMPLETE = "complete", _("Complete")
    VERIFIED = "verified", _("Verified")


# Statuses as codes (URLs, the worklist); pages show them through the `translated` filter.
RESPONSE_STATUS_WORDS = (
    gettext_noop("draft"),
    gettext_noop("complete"),
    gettext_noop("verified"),
)


# Columns source-data verification may change while the database is frozen.
VERIFICATION_COLUMNS = ("status", "verified_by_id", "verified_at", "updated_at")


def refuse_when_locked_except_verification() -> pgtrigger.Trigger:
    """trial.lock.refuse_when_locked for responses, with one exception: while the database
    is frozen (no data entry), a monitor or data manager may still mark a completed response as
    source-verified. The row's content (every column except the verification columns) must be
    unchanged for that; after lock nothing changes."""
    ignored = "ARRAY[" + ", ".join(f"'{c}'" for c in VERIFICATION_COLUMNS) + "]"
    return refuse_when_locked(
        during_freeze=True,
        frozen_unless=f"""TG_OP = 'UPDATE'
                AND OLD.status IN ('complete', 'verified')
                AND NEW.status IN ('complete', 'verified')
                AND (to_jsonb(NEW) - {ignored}) = (to_jsonb(OLD) - {ignored})""",
    )


DONE_SQL = "('complete', 'verified')"
# The MHRM's two spirituality items, whose skips are monitored (SPEC §7).
MHRM_SPIRITUALITY = ["MHRM_25", "MHRM_26"]


# The bit of each instrument in VisitProgress.done_mask: bit i is PROGRESS_CODES[i]. The order
# is stored in every row, so it is append-only: a new instrument goes at the end (a test checks
# that every instrument of the registry is here), and no code is ever removed or moved. The
# trigger and the rebuild below are generated from it; changing it changes the trigger, which
# makemigrations then asks for.
PROGRESS_CODES = (
    "DEMOG",
    "GAF",
    "PSP",
    "PANSS",
    "HAMD6",
    "YMRS",
    "IMRS_P",
    "MHRM",
    "SHS",
    "CSQ8",
    "IMRS_C",
    "SERVICE_USE",
)
assert len(PROGRESS_CODES) <= 63, "done_mask is a bigint"


def progress_bit(code: str) -> int:
    """The bit of a form in VisitProgress.done_mask."""
    return 1 << PROGRESS_CODES.index(code)


def progress_bit_sql(column: str) -> str:
    """SQL giving the bit of the instrument code in `column` (0 for a code not listed)."""
    cases = " ".join(f"WHEN '{code}' THEN {progress_bit(code)}" for code in PROGRESS_CODES)
    return f"(CASE {column} {cases} ELSE 0 END)::bigint"


def keep_visit_progress() -> pgtrigger.Trigger:
    """Keeps VisitProgress in step with the responses in PostgreSQL, so bulk updates and raw SQL
    are caught too. It adds or removes one code (and its bit) when a form becomes done or stops
    being done (an INSERT ... ON CONFLICT and an UPDATE of the current row, so two forms of one
    visit saved at the same time both count), and one bit of `verified_mask` when a done form
    is verified or stops being verified."""
    table = "assessments_visitprogress"
    keys_changed = (
        "NEW.participant_id <> OLD.participant_id OR NEW.timepoint <> OLD.timepoint "
        "OR NEW.instrument <> OLD.instrument"
    )
    return pgtrigger.Trigger(
        name="keep_visit_progress",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        func=f"""
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {DONE_SQL}
               AND (TG_OP = 'DELETE' OR NEW.status NOT IN {DONE_SQL} OR {keys_changed}) THEN
                UPDATE {table} SET done = array_remove(done, OLD.instrument),
                    done_mask = done_mask & ~{progress_bit_sql("OLD.instrument")},
                    verified_mask = verified_mask & ~{progress_bit_sql("OLD.instrument")}
                WHERE participant_id = OLD.participant_id AND timepoint = OLD.timepoint;
            ELSIF TG_OP = 'UPDATE' AND OLD.status = 'verified' AND NEW.status <> 'verified' THEN
                UPDATE {table}
                SET verified_mask = verified_mask & ~{progress_bit_sql("OLD.instrument")}
                WHERE participant_id = OLD.participant_id AND timepoint = OLD.timepoint;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN {DONE_SQL}
               AND (TG_OP = 'INSERT' OR OLD.status NOT IN {DONE_SQL} OR {keys_changed}) THEN
                INSERT INTO {table} (participant_id, timepoint, done, done_mask, verified_mask)
                VALUES (NEW.participant_id, NEW.timepoint, ARRAY[NEW.instrument],
                        {progress_bit_sql("NEW.instrument")},
                        CASE WHEN NEW.status = 'verified'
                             THEN {progress_bit_sql("NEW.instrument")} ELSE 0 END)
                ON CONFLICT (participant_id, timepoint) DO UPDATE
                SET done = array_append(array_remove({table}.done, NEW.instrument), NEW.instrument),
                    done_mask = {table}.done_mask | EXCLUDED.done_mask,
                    verified_mask = ({table}.verified_mask & ~EXCLUDED.done_mask)
                                    | EXCLUDED.verified_mask;
            ELSIF TG_OP = 'UPDATE' AND NEW.status = 'verified' AND OLD.status <> 'verified' THEN
                UPDATE {table}
                SET verified_mask = verified_mask | {progress_bit_sql("NEW.instrument")}
                WHERE participant_id = NEW.participant_id AND timepoint = NEW.timepoint;
            END IF;
            RETURN NULL;
        """,  # noqa: S608 (fixed text: a table name, status and instrument codes)
    )


@pghistory.track()
class InstrumentResponse(models.Model):
    """One instrument filled in for one participant at one timepoint. Items hold the scored
    values; a missing item is absent from `items` and has a reason code in `missing`.

    `version` counts saved versions (1 on create, +1 on every change) and is the optimistic
    concurrency token of the API. Every version is kept in the event table (pghistory)."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="responses"
    )
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    instrument = models.CharField(max_length=20, help_text="Instrument code (instruments.json)")
    items = models.JSONField(default=dict)
    missing = models.JSONField(default=dict)
    # Free-text comments per item: "other (specify)", the reason for an out-of-interval total.
    comments = models.JSONField(default=dict, blank=True)
    scores = models.JSONField(default=dict)
    status = models.CharField(
        max_length=8, choices=ResponseStatus.choices, default=ResponseStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=1)
    interview_date = models.DateField(null=True, blank=True)
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    rater_role = models.CharField(max_length=20, blank=True)
    first_completed_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint", "instrument"],
                name="one_response_per_instrument_and_timepoint",
            )
        ]
        triggers = [refuse_when_locked_except_verification(), keep_visit_progress()]
        indexes = [
            # Counts shown on every view of the queries page come from these indexes alone:
            # an instrument's done forms, the forms of an instrument a reader may not see (the
            # ids, so the count of a blinded reader's queries leaves out the clinicians' forms
            # without reading them: 29 -> 7 ms at 10,000 participants), and the MHRM forms
            # with a spirituality item skipped (SPEC §7 asks to monitor them).
            models.Index(
                fields=["instrument", "status"],
                include=["id"],
                name="response_instrument_status",
            ),
            models.Index(
                fields=["status"],
                condition=models.Q(instrument="MHRM", missing__has_any_keys=MHRM_SPIRITUALITY),
                name="response_mhrm_skip",
            ),
            # The SDV worklist (complete forms, oldest first): a page walks this index in
            # order, and the counts per site read it without the forms' rows.
            models.Index(
                fields=["updated_at", "id"],
                include=["instrument", "participant"],
                condition=models.Q(status="complete"),
                name="response_waiting_sdv",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.timepoint} {self.instrument}"

    @property
    def is_done(self) -> bool:
        return self.status in (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)

    @property
    def instrument_name(self) -> str:
        """The instrument's short name, as the forms and the timeline show it ("HAM-D6")."""
        found = registry.find(self.instrument)
        return str(found.short_name) if found is not None else self.instrument


@pghistory.track()
class FieldVerification(models.Model):
    """Source-data verification of one field of one saved version of a response: a monitor
    or data manager compared the item with the source. It holds for that version only, so
    any later change of the form (a new version) resets it. Possible while the database is
    frozen, as form-level verification is; nothing changes after lock."""

    response = models.ForeignKey(
        InstrumentResponse, on_delete=models.PROTECT, related_name="field_verifications"
    )
    item = models.CharField(max_length=40, help_text="Item code, or 'interview_date'")
    version = models.PositiveIntegerField(help_text="The response version that was verified")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["response", "item", "version"],
                name="one_verification_per_field_and_version",
            )
        ]
        triggers = [refuse_when_locked(during_freeze=False)]

    def __str__(self) -> str:
        return f"{self.response_id} {self.item} v{self.version}"


class QueryStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


# Queries that still need someone's attention (they block a lock without an override).
UNRESOLVED_QUERY_STATUSES = (QueryStatus.OPEN, QueryStatus.ANSWERED)


class QueryKind(models.TextChoices):
    MANUAL = "manual", _("Raised by a data manager")
    AUTOMATIC = "automatic", _("Edit check")


@pghistory.track()
class Query(models.Model):
    """A data query on one field of one response: raised by a data manager or by an edit
    check, answered by site staff, closed or re-opened by a data manager. The conversation is
    in QueryMessage. Queries stay workable while the database is frozen, not after lock."""

    response = models.ForeignKey(
        InstrumentResponse, on_delete=models.PROTECT, related_name="queries"
    )
    item = models.CharField(
        max_length=40, blank=True, help_text="Item code, 'interview_date', or empty for the form"
    )
    kind = models.CharField(max_length=10, choices=QueryKind.choices)
    edit_check = models.CharField(
        max_length=40, blank=True, help_text="Edit check code (automatic)"
    )
    status = models.CharField(
        max_length=10, choices=QueryStatus.choices, default=QueryStatus.OPEN, db_index=True
    )
    message = models.TextField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name_plural = "queries"
        # A page of queries in raising order, of one status or all, is read from these
        # indexes and stops after the page (the lists of the queries page and API).
        indexes = [
            models.Index(fields=["status", "raised_at", "id"], name="query_status_raised"),
            models.Index(fields=["raised_at", "id"], name="query_raised"),
        ]
        triggers = [refuse_when_locked(during_freeze=False)]

    def __str__(self) -> str:
        return f"Query {self.pk} on {self.response} {self.item}"

    @property
    def field_label(self) -> str:
        """The queried field as the pages name it: an item's code (the form shows it next to
        the item), the interview date, the status, or the whole form."""
        return str(FIELD_LABELS.get(self.item, self.item))


# The fields of a form that are not items (services.queries.FORM_FIELDS), in words.
FIELD_LABELS = {
    "": _("whole form"),
    "interview_date": _("interview date"),
    "status": _("form status"),
}


class QueryAction(models.TextChoices):
    RAISED = "raised", _("Raised")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Re-opened")
    AUTO_CLOSED = "auto_closed", _("Closed by the edit check")


@pghistory.track()
class QueryMessage(models.Model):
    """One step of a query's conversation. Never changed or deleted."""

    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages")
    action = models.CharField(max_length=12, choices=QueryAction.choices)
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_role = models.CharField(max_length=20, blank=True, choices=Role.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        triggers = [
            refuse_when_locked(during_freeze=False),
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


@pghistory.track()
class RegisterImport(models.Model):
    """One import of a service-use file from the national registers. A new import supersedes
    the previous one; superseded imports and their rows are kept. The file's CPR numbers are
    never stored: rows are linked to participants through the keyed CPR hash."""

    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(default=timezone.now)
    file_sha256 = models.CharField(
        max_length=64, help_text="HMAC-SHA256 of the file under a key derived from CPR_KEYS"
    )
    lines = models.PositiveIntegerField(help_text="Data lines in the file")
    participants = models.PositiveIntegerField(help_text="Participants linked")
    note = models.TextField(blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-imported_at", "-id"]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Register import {self.pk} ({self.imported_at:%Y-%m-%d})"


@pghistory.track()
class ServiceUsePeriod(models.Model):
    """One line of a register file: a participant's psychiatric service use in one period."""

    register_import = models.ForeignKey(
        RegisterImport, on_delete=models.PROTECT, related_name="periods"
    )
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="service_use"
    )
    line = models.PositiveIntegerField(help_text="Line number in the imported file")
    period_start = models.DateField()
    period_end = models.DateField()
    admissions = models.PositiveIntegerField()
    admission_days = models.PositiveIntegerField()
    emergency_visits = models.PositiveIntegerField()
    outpatient_contacts = models.PositiveIntegerField()

    class Meta:
        ordering = ["participant_id", "period_start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="service_use_period_in_order",
            )
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.period_start}–{self.period_end}"


def mirror_done_mask() -> pgtrigger.Trigger:
    """Copies a visit's `done_mask` to its WorklistVisit row (if the visit is scheduled)."""
    table = "assessments_worklistvisit"
    return pgtrigger.Trigger(
        name="mirror_done_mask",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.UpdateOf("done_mask") | pgtrigger.Delete,
        func=f"""
            IF TG_OP = 'DELETE' THEN
                UPDATE {table} SET done_mask = 0
                WHERE participant_id = OLD.participant_id AND timepoint = OLD.timepoint
                  AND done_mask <> 0;
            ELSE
                UPDATE {table} SET done_mask = NEW.done_mask
                WHERE participant_id = NEW.participant_id AND timepoint = NEW.timepoint
                  AND done_mask <> NEW.done_mask;
            END IF;
            RETURN NULL;
        """,  # noqa: S608 (fixed text: a table name)
    )


class VisitProgress(models.Model):
    """Derived, never written by the application: the codes of the forms of one participant's
    visit (timepoint) that are done (complete or verified), kept by the `keep_visit_progress`
    trigger of InstrumentResponse in the same statement. The worklist reads these narrow rows
    (one per visit) instead of every response: whether every form a user enters at the visit
    is done is one AND of `done_mask` (the same forms as bits, PROGRESS_CODES) with the
    user's forms, not an array containment per visit. `rebuild_visit_progress()` fills it
    from the responses after a load that bypassed triggers."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.CASCADE, related_name="+"
    )
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    done = ArrayField(models.CharField(max_length=20), default=list)
    # `done` as bits: bit i set when PROGRESS_CODES[i] is done.
    done_mask = models.BigIntegerField(default=0)
    # The done forms that are verified, as bits: `done_mask & ~verified_mask` are the forms
    # waiting for source-data verification (the SDV worklist counts them per site).
    verified_mask = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint"], name="one_progress_per_visit"
            )
        ]
        triggers = [mirror_done_mask()]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.timepoint}: {', '.join(self.done)}"


# Participants whose visits are scheduled (the worklist's): consented and randomised ones.
# Closed participants (withdrawn, lost, dead, excluded) are left off the worklist.
SCHEDULED_STATUSES = (Status.CONSENTED.value, Status.RANDOMIZED.value)
# The visits of a scheduled participant: baseline from consent, the others once randomised.
UNRANDOMIZED_VISITS = ("baseline",)


def _timepoint_case(column: str, values: dict[str, str], default: str = "NULL") -> str:
    cases = " ".join(f"WHEN '{timepoint}' THEN {value}" for timepoint, value in values.items())
    return f"CASE {column} {cases} ELSE {default} END"


def visit_closes_sql(timepoint: str, randomized_at: str) -> str:
    """SQL for the last day of a visit's window (the worklist's sort key): the randomisation
    date (Copenhagen) for baseline, so many months after it for the others (windows.window)."""
    day = f"({randomized_at} AT TIME ZONE '{settings.TIME_ZONE}')::date"
    closes = {"baseline": day}
    for name, rule in settings.ASSESSMENT_WINDOWS.items():
        closes[name] = f"({day} + interval '{int(rule['closes'])} months')::date"
    return _timepoint_case(timepoint, closes)


def full_mask(timepoint: str) -> int:
    """The bits of every form entered at a visit: when all are done, the visit is complete for
    every user, whatever forms they enter."""
    return sum(
        progress_bit(instrument.code)
        for instrument in registry.forms()
        if timepoint in instrument.timepoints
    )


def _generated(sql: str, output_field: models.Field) -> models.GeneratedField:  # type: ignore[type-arg]
    """A column PostgreSQL works out from the row's others and stores."""
    return models.GeneratedField(
        expression=models.expressions.RawSQL(sql, ()),  # noqa: S611 (fixed text, no input)
        output_field=output_field,
        db_persist=True,
    )


class WorklistVisit(models.Model):
    """Derived, never written by the application: one row per scheduled visit (baseline of a
    consented or randomised participant, post and follow-up once randomised), with what the
    worklist sorts, classifies and counts by, copied from the participant and its visit's
    progress by triggers in their own statements (`keep_worklist_visits` on the participants,
    `mirror_done_mask` on VisitProgress). The worklist pages and counts from this table's
    indexes: the visits not yet done by everyone (`all_done` false) are a partial index, so a
    view's cost grows with the visits still to do, not with the trial's size.
    `REBUILD_VISIT_PROGRESS_SQL` fills it after a load that bypassed triggers."""

    # No index of their own: the unique constraint and worklist_visit_site lead with them.
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    site = models.ForeignKey(
        "trial.Site", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    study_id = models.CharField(max_length=16)
    randomized_at = models.DateTimeField(null=True)
    # The first day of the baseline window: the consent date (the registration date without).
    starts_on = models.DateField()
    done_mask = models.BigIntegerField(default=0)  # VisitProgress.done_mask, 0 with none done
    rank = _generated(
        _timepoint_case("timepoint", {t: str(i) for i, t in enumerate(Timepoint.values)}),
        models.SmallIntegerField(),
    )
    closes = _generated(visit_closes_sql("timepoint", "randomized_at"), models.DateField())
    # Every form of the visit done: the visit is off every user's worklist but the completed.
    all_done = _generated(
        "done_mask = "
        + _timepoint_case("timepoint", {t: str(full_mask(t)) for t in Timepoint.values}),
        models.BooleanField(),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint"], name="one_worklist_visit_per_visit"
            )
        ]
        indexes = [
            # Pages of every visit (the completed and "all" views), most urgent first.
            models.Index(fields=["closes", "study_id", "rank"], name="worklist_visit_order"),
            # The visits still to do, in the same order: the default view, its counts.
            models.Index(
                fields=["closes", "study_id", "rank"],
                name="worklist_visit_pending",
                condition=models.Q(all_done=False),
            ),
            # The number of visits per site and timepoint, from the index alone.
            models.Index(fields=["site", "timepoint"], name="worklist_visit_site"),
        ]

    def __str__(self) -> str:
        return f"{self.study_id} {self.timepoint}"


WORKLIST_VISIT_COLUMNS = "participant_id, timepoint, site_id, study_id, randomized_at, starts_on"


def _scheduled_sql(participant: str) -> str:
    """SQL: whether the participant's row `participant` has scheduled visits."""
    statuses = ", ".join(f"'{status}'" for status in SCHEDULED_STATUSES)
    return f"{participant}.status IN ({statuses})"


def _visits_sql(participant: str) -> str:
    """SQL: the array of the timepoints of a scheduled participant's visits."""
    unrandomized = ", ".join(f"'{timepoint}'" for timepoint in UNRANDOMIZED_VISITS)
    every = ", ".join(f"'{timepoint}'" for timepoint in Timepoint.values)
    return (
        f"CASE WHEN {participant}.randomized_at IS NULL "
        f"THEN ARRAY[{unrandomized}] ELSE ARRAY[{every}] END"
    )


def _scheduled_visits_sql(participant: str) -> str:
    """SELECT of the WorklistVisit rows (WORKLIST_VISIT_COLUMNS, done_mask) of the
    participant's row `participant`, with the done forms of its progress rows."""
    return f"""
        SELECT {participant}.id, visit.timepoint, {participant}.site_id, {participant}.study_id,
               {participant}.randomized_at,
               coalesce({participant}.consent_date,
                        ({participant}.registered_at AT TIME ZONE '{settings.TIME_ZONE}')::date),
               coalesce(progress.done_mask, 0)
        FROM unnest({_visits_sql(participant)}) AS visit (timepoint)
        LEFT JOIN assessments_visitprogress progress
               ON progress.participant_id = {participant}.id
              AND progress.timepoint = visit.timepoint
        WHERE {_scheduled_sql(participant)}"""  # noqa: S608 (fixed text)


# Keeps WorklistVisit in step with the participants, in PostgreSQL (so raw SQL and bulk
# updates are caught too): after a participant is added or one of the columns the worklist
# copies changes, its rows are deleted when no longer scheduled and written (or rewritten)
# when scheduled. On the participants' table but created by this app's migrations (the
# participants app knows nothing of the worklist); pgtrigger does not manage it.
KEEP_WORKLIST_VISITS_COLUMNS = (
    "status",
    "site_id",
    "study_id",
    "randomized_at",
    "consent_date",
    "registered_at",
)
KEEP_WORKLIST_VISITS_SQL = f"""
CREATE OR REPLACE FUNCTION assessments_keep_worklist_visits() RETURNS trigger AS $$
BEGIN
    DELETE FROM assessments_worklistvisit
    WHERE participant_id = NEW.id
      AND NOT ({_scheduled_sql("NEW")} AND timepoint = ANY({_visits_sql("NEW")}));
    INSERT INTO assessments_worklistvisit ({WORKLIST_VISIT_COLUMNS}, done_mask)
    {_scheduled_visits_sql("NEW")}
    ON CONFLICT (participant_id, timepoint) DO UPDATE
    SET site_id = EXCLUDED.site_id, study_id = EXCLUDED.study_id,
        randomized_at = EXCLUDED.randomized_at, starts_on = EXCLUDED.starts_on;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS assessments_keep_worklist_visits_insert ON participants_participant;
CREATE TRIGGER assessments_keep_worklist_visits_insert
    AFTER INSERT ON participants_participant
    FOR EACH ROW EXECUTE FUNCTION assessments_keep_worklist_visits();
DROP TRIGGER IF EXISTS assessments_keep_worklist_visits_update ON participants_participant;
CREATE TRIGGER assessments_keep_worklist_visits_update
    AFTER UPDATE OF {", ".join(KEEP_WORKLIST_VISITS_COLUMNS)} ON participants_participant
    FOR EACH ROW
    WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in KEEP_WORKLIST_VISITS_COLUMNS)})
    EXECUTE FUNCTION assessments_keep_worklist_visits();
"""  # noqa: S608 (fixed text)
REBUILD_WORKLIST_VISITS_SQL = f"""
    DELETE FROM assessments_worklistvisit;
    INSERT INTO assessments_worklistvisit ({WORKLIST_VISIT_COLUMNS}, done_mask)
    SELECT visit.* FROM participants_participant participant,
        LATERAL ({_scheduled_visits_sql("participant")}) AS visit;
"""  # noqa: S608 (fixed text)


REBUILD_VISIT_PROGRESS_SQL = f"""
    DELETE FROM assessments_visitprogress;
    INSERT INTO assessments_visitprogress
        (participant_id, timepoint, done, done_mask, verified_mask)
    SELECT participant_id, timepoint, array_agg(instrument ORDER BY instrument),
           bit_or({progress_bit_sql("instrument")}),
           coalesce(bit_or({progress_bit_sql("instrument")})
                    FILTER (WHERE status = 'verified'), 0)
    FROM assessments_instrumentresponse
    WHERE status IN {DONE_SQL}
    GROUP BY participant_id, timepoint;
    {REBUILD_WORKLIST_VISITS_SQL}
"""  # noqa: S608 (fixed text)


def rebuild_visit_progress() -> None:
    """VisitProgress and WorklistVisit afresh from the responses and the participants (after a
    bulk load with triggers off)."""
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_VISIT_PROGRESS_SQL)
