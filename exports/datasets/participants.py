"""`participants`: one row per registered person. Dates are days relative to randomisation;
the date of birth only gives the age and never leaves; the CPR number is never read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Collate
from django.utils import timezone

from exports.datasets.base import NOT_APPLICABLE, Column, Dataset, OdmBinding, OdmEvent, Row
from exports.datasets.base import VarType as T
from exports.datasets.context import ExportContext

SEX_CODES = {"male": 1, "female": 2}
SEX_LABELS = ((1, "Male"), (2, "Female"))
DX_CODES = {"F20": 1, "F31": 2}
DX_LABELS = ((1, "Schizophrenia (ICD-10 F20.x)"), (2, "Bipolar disorder (ICD-10 F31.x)"))
NO_YES = ((0, "No"), (1, "Yes"))

ENROLMENT = OdmEvent("SE.ENROLMENT", "Enrolment and participation", 0)
NA = (NOT_APPLICABLE.code,)
CHUNK = 5000


def status_codes() -> dict[str, int]:
    from participants.models import Status

    return {value: number for number, value in enumerate(Status.values, start=1)}


def status_labels() -> tuple[tuple[int, str], ...]:
    from participants.models import Status

    return tuple((number, label) for number, (_, label) in enumerate(Status.choices, start=1))


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class ParticipantsBuilder:
    name = "participants"
    reveals_allocation = False

    def columns(self, context: ExportContext) -> list[Column]:
        columns = [
            context.study_id_column(),
            context.site_column(),
            Column("SEX", "Sex", T.INTEGER, value_labels=SEX_LABELS),
            Column(
                "AGE",
                "Age at randomisation (years)",
                T.INTEGER,
                missing=NA,
                minimum=18,
                derivation="Whole years from the date of birth (CPR number) to randomisation; "
                "not applicable if not randomised",
            ),
            Column(
                "DX_GROUP",
                "Diagnosis group",
                T.INTEGER,
                value_labels=DX_LABELS,
                missing=NA,
                derivation="From the latest eligible screening; not applicable if never eligible",
            ),
            Column(
                "STATUS",
                "Participation status at the snapshot",
                T.INTEGER,
                value_labels=status_labels(),
            ),
            Column(
                "RANDOMISED",
                "Randomised (intention-to-treat population)",
                T.INTEGER,
                value_labels=NO_YES,
            ),
            context.allocation_column(),
        ]
        if not context.blinded:
            columns.append(Column("RAND_CODE", "Randomisation code (allocation list slot)", T.TEXT))
        columns += [
            Column(
                "REG_DAY",
                "Registration, days from randomisation",
                T.INTEGER,
                missing=NA,
                derivation="Registration date − randomisation date (day 0)",
            ),
            Column(
                "CONSENT_DAY",
                "Written informed consent, days from randomisation",
                T.INTEGER,
                missing=NA,
                derivation="Consent date − randomisation date (day 0)",
            ),
            Column(
                "STATUS_DAY",
                "Withdrawal, loss to follow-up or death, days from randomisation",
                T.INTEGER,
                missing=NA,
                derivation="Status date − randomisation date; not applicable while participating",
            ),
        ]
        return columns

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        columns = self.columns(context)
        yield Dataset(
            name="participants",
            label="Participants: one row per registered person",
            description="Everyone registered, randomised or not; STATUS and RANDOMISED say who "
            "belongs to which analysis population.",
            columns=columns,
            chunks=lambda: self._chunks(context),
            odm=OdmBinding(form_oid="F.PARTICIPANT", form_name="Participant", event=ENROLMENT),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        from participants.models import EligibilityScreening, Participant
        from randomization.models import Allocation

        return (Participant, EligibilityScreening, Allocation)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        from participants.models import CLOSED_STATUSES, EligibilityScreening, Participant

        statuses = status_codes()
        latest_eligible = (
            EligibilityScreening.objects.filter(participant=OuterRef("pk"), eligible=True)
            .order_by("-screened_at", "-id")
            .values("diagnosis")[:1]
        )
        rows = (
            Participant.objects.order_by(Collate("study_id", "C"))
            .annotate(eligible_diagnosis=Subquery(latest_eligible))
            .values_list(
                "id",
                "sex",
                "date_of_birth",
                "status",
                "registered_at",
                "consent_date",
                "status_date",
                "eligible_diagnosis",
            )
            .iterator(chunk_size=CHUNK)
        )
        chunk: list[Row] = []
        for pk, sex, born, status, registered_at, consent, status_date, diagnosis in rows:
            facts = context.participants[pk]
            day0 = facts.randomised_on
            randomised = day0 is not None
            row: list = [
                facts.study_id,
                facts.site_number,
                SEX_CODES[sex],
                age_in_years(born, day0) if day0 is not None else NOT_APPLICABLE.code,
                DX_CODES.get(diagnosis or "", NOT_APPLICABLE.code),
                statuses[status],
                int(randomised),
                context.allocation_value(facts),
            ]
            if not context.blinded:
                row.append(facts.randomisation_code)
            closed = status in CLOSED_STATUSES
            row += [
                context.days_from_randomisation(facts, timezone.localtime(registered_at).date()),
                context.days_from_randomisation(facts, consent),
                context.days_from_randomisation(facts, status_date)
                if closed
                else NOT_APPLICABLE.code,
            ]
            chunk.append(tuple(row))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
