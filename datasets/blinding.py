"""`blinding` (unblinded exports, so only after the lock): one row per randomised participant
and follow-up timepoint (post, follow-up) with a blinding guess or a completed form: the
assessor's guess of the arm beside the arm, whether it was right, and the flags for
assessments made by someone who had reported being unblinded (the randomisation app's
`unblinding_dates` and `response_is_flagged`), for the blinding index and for sensitivity
analyses that leave flagged assessments out.

Guesses beside arms are exactly what must not exist before the lock (the randomisation app
shows its blinding index only after it), so the dataset is built for unblinded exports only and
a blinded export contains nothing in its place."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from types import SimpleNamespace
from typing import Any

from django.db.models import Case, Count, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from assessments.models import InstrumentResponse
from datasets.base import Column, Dataset, OdmBinding, Row
from datasets.base import VarType as T
from datasets.context import ARM_CODES, ARM_LABELS, NO_YES, ExportContext
from datasets.instruments import TIMEPOINT_NUMBERS
from datasets.responses import DONE_STATUSES, timepoint_events, timepoint_labels
from randomization.models import BlindingGuess, UnblindingIncident
from randomization.selectors import response_is_flagged, unblinding_dates

DONT_KNOW = 9


def guess_labels() -> tuple[tuple[int, str], ...]:
    return (*ARM_LABELS, (DONT_KNOW, "Don't know"))


class BlindingBuilder:
    name = "blinding"
    reveals_allocation = True
    withheld_why = (
        "Puts the assessors' guesses beside the arms, so it is in unblinded exports (after "
        "the lock) only; a blinded export contains nothing in its place."
    )

    def columns(self, context: ExportContext) -> list[Column]:
        labels = dict(timepoint_labels())
        follow_ups = tuple((n, labels[n]) for n in (1, 2))
        return [
            context.study_id_column(),
            context.site_column(),
            context.allocation_column(),
            Column("TIMEPOINT", "Timepoint", T.INTEGER, value_labels=follow_ups, key=True),
            Column(
                "GUESS",
                "Assessor's guess of the arm",
                T.INTEGER,
                value_labels=guess_labels(),
                derivation="Recorded by the assessor at the assessment; empty if none.",
            ),
            Column(
                "GUESS_OK",
                "The guess was right",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 if GUESS = ARM, 0 if the other arm; empty for don't know or no "
                "guess.",
            ),
            context.day_column(
                "GUESS_DAY",
                "Guess recorded, days from randomisation",
                "Date recorded − randomisation date.",
            ),
            Column(
                "GUESSER_UNBL",
                "The guessing assessor had reported being unblinded by then",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 if the assessor had reported an unblinding (any participant) on "
                "or before the day of the guess.",
            ),
            Column(
                "FORMS",
                "Complete forms at this timepoint",
                T.INTEGER,
                minimum=0,
            ),
            Column(
                "FLAGGED",
                "Of which by a rater who had reported being unblinded",
                T.INTEGER,
                minimum=0,
                derivation="Forms whose rater had reported an unblinding on or before the day "
                "of the assessment (randomization.selectors.response_is_flagged).",
            ),
            Column(
                "FLAGGED_FORMS",
                "Instruments of the flagged forms",
                T.TEXT,
                derivation="Instrument codes separated by spaces, in registry order.",
            ),
        ]

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        events = timepoint_events()
        yield Dataset(
            name="blinding",
            label="Blinding: guesses and unblinding flags by participant and timepoint",
            description="Randomised participants × post-intervention and follow-up, where a "
            "blinding guess or a complete form exists. Unblinded exports only.",
            columns=self.columns(context),
            chunks=lambda: self._chunks(context),
            odm=OdmBinding(
                form_oid="F.BLINDING",
                form_name="Blinding of the assessment",
                event_column="TIMEPOINT",
                events_by_value={n: events[n] for n in (1, 2)},
            ),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (BlindingGuess, UnblindingIncident, InstrumentResponse)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        order = {code: n for n, code in enumerate(context.catalogue)}
        unblinded = unblinding_dates()
        guesses: dict[tuple[int, int], dict[str, Any]] = {}
        for recorded in BlindingGuess.objects.values(
            "participant_id", "timepoint", "guess", "assessor_id", "recorded_at"
        ):
            key = (recorded["participant_id"], TIMEPOINT_NUMBERS[recorded["timepoint"]])
            guesses[key] = dict(recorded)
        done_forms = InstrumentResponse.objects.filter(
            status__in=DONE_STATUSES, timepoint__in=["post", "followup"]
        )
        # Only a form rated by someone who reported being unblinded can be flagged: the dates
        # response_is_flagged() weighs are read for those forms alone, and the completion
        # time only where there is no interview date (assessment_day() reads it only then).
        moment = Case(
            When(interview_date__isnull=True, then=Coalesce("first_completed_at", "created_at")),
            default=None,
        )
        flagged_codes: dict[tuple[int, int], list[str]] = defaultdict(list)
        for pid, when, code, rater_id, interview, completed in (
            done_forms.filter(rater_id__in=list(unblinded))
            .annotate(moment=moment)
            .values_list(
                "participant_id", "timepoint", "instrument", "rater_id", "interview_date", "moment"
            )
        ):
            response = SimpleNamespace(
                rater_id=rater_id,
                interview_date=interview,
                first_completed_at=completed,
                created_at=None,
            )
            if response_is_flagged(response, unblinded=unblinded):
                flagged_codes[(pid, TIMEPOINT_NUMBERS[when])].append(code)
        # The forms themselves are only counted: by the database.
        counts = {
            (pid, TIMEPOINT_NUMBERS[when]): count
            for pid, when, count in done_forms.order_by()
            .values("participant_id", "timepoint")
            .annotate(count=Count("id"))
            .values_list("participant_id", "timepoint", "count")
        }
        chunk: list[Row] = []
        for facts in context.participants.values():  # ordered by study ID
            if facts.randomized_on is None or facts.arm is None:
                continue
            for number in (1, 2):
                guess = guesses.get((facts.id, number))
                done = counts.get((facts.id, number), 0)
                if guess is None and not done:
                    continue
                flagged = sorted(flagged_codes.get((facts.id, number), []), key=order.__getitem__)
                day = self._day(guess)
                chunk.append(
                    (
                        facts.study_id,
                        facts.site_number,
                        context.allocation_value(facts),
                        number,
                        *self._guess(guess, facts.arm, unblinded),
                        context.days_from_randomization(facts, day),
                        self._guesser_unblinded(guess, day, unblinded),
                        done,
                        len(flagged),
                        " ".join(flagged) or None,
                    )
                )
        yield chunk

    @staticmethod
    def _day(guess: Any) -> date | None:
        return timezone.localdate(guess["recorded_at"]) if guess else None

    @staticmethod
    def _guess(guess: Any, arm: str, unblinded: dict[int, date]) -> tuple[Any, Any]:
        if guess is None:
            return None, None
        if guess["guess"] not in ARM_CODES:
            return DONT_KNOW, None
        return ARM_CODES[guess["guess"]], int(guess["guess"] == arm)

    @staticmethod
    def _guesser_unblinded(guess: Any, day: date | None, unblinded: dict[int, date]) -> int | None:
        if guess is None:
            return None
        since = unblinded.get(guess["assessor_id"])
        return int(since is not None and day is not None and day >= since)
