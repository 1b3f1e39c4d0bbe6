"""`participants`: one row per registered person, with what the analyses adjust for and
stratify by: site, sex, age at randomisation, diagnosis, the baseline demographics (DEMOG), the
arm (unblinded) or masked group (blinded), status and withdrawal, and dates as days relative to
randomisation.

Sex, site and age are DEMOG's derived items, computed by the instrument module itself
(`instruments.demog.derive`: AGE is whole years at randomisation); the date of
birth is read only by that function and never leaves. The other demographics are the answers
on the complete baseline DEMOG form. The CPR number is never read; free text (the reason for
a withdrawal, "other (specify)" comments) is not exported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Collate
from django.utils import timezone

from assessments.models import InstrumentResponse, Timepoint
from datasets.base import Column, Dataset, OdmBinding, OdmEvent, Row, not_applicable
from datasets.base import VarType as T
from datasets.context import DEMOG, NO_YES, ExportContext
from datasets.forms import FormDecoder, FormRef, as_dict, variable_column
from datasets.responses import DONE_STATUSES, exported_variables
from instruments import demog
from participants.models import (
    CLOSED_STATUSES,
    Diagnosis,
    EligibilityScreening,
    Participant,
    Status,
)
from randomization.models import Allocation

ENROLMENT = OdmEvent("SE.ENROLMENT", "Enrolment and participation", 0)
CHUNK = 2000


def status_codes() -> dict[str, int]:
    return {value: number for number, value in enumerate(Status.values, start=1)}


def status_labels() -> tuple[tuple[int, str], ...]:
    return tuple((number, str(label)) for number, (_, label) in enumerate(Status.choices, start=1))


def diagnosis_codes() -> dict[str, int]:
    return {value: number for number, value in enumerate(Diagnosis.values, start=1)}


def diagnosis_labels() -> tuple[tuple[int, str], ...]:
    return tuple(
        (number, str(label)) for number, (_, label) in enumerate(Diagnosis.choices, start=1)
    )


class ParticipantsBuilder:
    name = "participants"
    reveals_allocation = False

    def columns(self, context: ExportContext, demographics: list[Any]) -> list[Column]:
        demog = context.catalogue[DEMOG]
        sex, age = demog.variable("SEX"), demog.variable("AGE")
        na = (not_applicable(),)
        columns = [
            context.study_id_column(),
            context.site_column(),
            context.allocation_column(),
            Column(
                "RANDOMISED",
                "Randomised (intention-to-treat population)",
                T.INTEGER,
                value_labels=NO_YES,
            ),
            Column(
                "STATUS",
                "Participation status at the snapshot",
                T.INTEGER,
                value_labels=status_labels(),
            ),
            Column(
                "WITHDRAWN",
                "Withdrew consent",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 if the status is withdrawn (END_DAY says when).",
            ),
            Column(
                "SEX",
                sex.label,
                T.INTEGER,
                value_labels=tuple(sex.value_labels.items()),
                instrument=DEMOG,
                derivation=sex.derivation,
                source="SEX",
            ),
            Column(
                "AGE",
                age.label,
                T.INTEGER,
                missing=na,
                minimum=age.min,
                instrument=DEMOG,
                derivation=f"{age.derivation} Not applicable if not randomised.",
                source="AGE",
                notes=f"Unit: {age.unit}" if age.unit else "",
            ),
            Column(
                "SCREEN_DX",
                "Diagnosis at the eligibility screening",
                T.INTEGER,
                value_labels=diagnosis_labels(),
                derivation="From the latest eligibility screening; empty if never screened.",
            ),
        ]
        columns += [variable_column(demog, v, timepoints="T0") for v in demographics]
        columns += [
            context.day_column(
                "REG_DAY",
                "Registration, days from randomisation",
                "Registration date − randomisation date (day 0).",
            ),
            context.day_column(
                "CONSENT_DAY",
                "Written informed consent, days from randomisation",
                "Consent date − randomisation date (day 0).",
            ),
            context.day_column(
                "END_DAY",
                "Withdrawal, loss to follow-up or death, days from randomisation",
                "Status date − randomisation date; empty while participating.",
            ),
        ]
        return columns

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        demog = context.catalogue[DEMOG]
        demographics = exported_variables(demog)
        yield Dataset(
            name="participants",
            label="Participants: one row per registered person",
            description="Everyone registered, randomised or not; RANDOMISED and STATUS say who "
            "belongs to which analysis population. The demographics (HOUSING to SUBSTANCE) "
            "are the answers on the complete baseline DEMOG form; empty without one.",
            columns=self.columns(context, demographics),
            chunks=lambda: self._chunks(context, FormDecoder(demog, demographics)),
            odm=OdmBinding(form_oid="F.PARTICIPANT", form_name="Participant", event=ENROLMENT),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (Participant, EligibilityScreening, Allocation, InstrumentResponse)

    def _demographics(self) -> dict[int, tuple[Any, Any, Any]]:
        rows = InstrumentResponse.objects.filter(
            instrument=DEMOG, timepoint=Timepoint.BASELINE, status__in=DONE_STATUSES
        ).values_list("participant_id", "items", "missing", "scores")
        return {pk: (items, missing, scores) for pk, items, missing, scores in rows}

    def _chunks(self, context: ExportContext, decoder: FormDecoder) -> Iterator[Sequence[Row]]:
        statuses = status_codes()
        diagnoses = diagnosis_codes()
        forms = self._demographics()
        empty = [None] * len(decoder.variables)
        latest_screening = (
            EligibilityScreening.objects.filter(participant=OuterRef("pk"))
            .order_by("-screened_at", "-id")
            .values("diagnosis")[:1]
        )
        people = (
            Participant.objects.order_by(Collate("study_id", "C"))
            .select_related("site")
            # What this loop and demog.derive() read, no more: every other column (the CPR
            # token among them) would be fetched and converted for nothing.
            .only(
                "id",
                "status",
                "status_date",
                "registered_at",
                "consent_date",
                "sex",
                "date_of_birth",
                "randomized_at",
                "site__number",
            )
            .annotate(screened_diagnosis=Subquery(latest_screening))
            .iterator(chunk_size=CHUNK)
        )
        chunk: list[Row] = []
        for person in people:
            facts = context.participants[person.pk]
            derived = demog.derive(person)  # SITE, SEX, DOB, AGE: the DOB stays here
            form = forms.get(person.pk)
            answers = (
                decoder.decode(
                    as_dict(form[0]),
                    as_dict(form[1]),
                    as_dict(form[2]),
                    where=FormRef(DEMOG, facts.study_id, "baseline"),
                    randomized_on=facts.randomized_on,
                    redactions=context.redactions,
                )
                if form is not None
                else empty
            )
            closed = person.status in CLOSED_STATUSES
            chunk.append(
                (
                    facts.study_id,
                    derived["SITE"],
                    context.allocation_value(facts),
                    int(facts.randomized_on is not None),
                    statuses[person.status],
                    int(person.status == Status.WITHDRAWN),
                    derived["SEX"],
                    derived["AGE"] if derived["AGE"] is not None else not_applicable(),
                    diagnoses.get(person.screened_diagnosis or ""),
                    *answers,
                    context.days_from_randomization(
                        facts, timezone.localdate(person.registered_at)
                    ),
                    context.days_from_randomization(facts, person.consent_date),
                    context.days_from_randomization(facts, person.status_date) if closed else None,
                )
            )
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
