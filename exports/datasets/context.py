"""What every dataset builder shares inside one export: the blinding, the instrument catalogue,
and one index of participants (study ID, site, randomisation date, arm or masked group), read
once from the snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models.functions import Collate
from django.utils import timezone

from exports.datasets.base import NOT_APPLICABLE, Column, VarType
from exports.instruments import InstrumentMeta

# Arm codes of unblinded exports: a treatment indicator, as the analysis models use it.
ARM_CODES = {"IMR": 1, "TAU": 0}
ARM_LABELS = ((1, "IMR + treatment as usual"), (0, "Treatment as usual"))
# Masked group codes of blinded exports; which arm is A stays sealed until after the lock.
GROUP_CODES = {"A": 1, "B": 2}
GROUP_LABELS = ((1, "Group A"), (2, "Group B"))


@dataclass(frozen=True)
class ParticipantFacts:
    id: int
    study_id: str
    site_number: int
    randomised_on: date | None
    allocation: int | None  # the arm code (unblinded) or the masked group code (blinded)
    randomisation_code: str = ""  # unblinded exports only


@dataclass
class ExportContext:
    blinded: bool
    masking: Mapping[str, str] | None
    catalogue: Mapping[str, InstrumentMeta]
    participants: dict[int, ParticipantFacts] = field(default_factory=dict)
    site_labels: tuple[tuple[int, str], ...] = ()
    redactions: list[dict[str, Any]] = field(default_factory=list)

    def load_participants(self) -> None:
        """Read the participant index from the current transaction (the snapshot)."""
        from participants.models import Participant, Site

        if self.blinded and not self.masking:
            raise ValueError("A blinded export needs the masking key.")
        self.site_labels = tuple(
            (site.number, site.name) for site in Site.objects.order_by("number")
        )
        rows = (
            Participant.objects.order_by(Collate("study_id", "C"))
            .values_list(
                "id",
                "study_id",
                "site__number",
                "allocation__arm",
                "allocation__randomized_at",
                "allocation__randomization_code",
            )
            .iterator(chunk_size=5000)
        )
        for pk, study_id, site_number, arm, randomized_at, code in rows:
            self.participants[pk] = ParticipantFacts(
                id=pk,
                study_id=study_id,
                site_number=site_number,
                randomised_on=timezone.localtime(randomized_at).date() if randomized_at else None,
                allocation=self._allocation_code(arm),
                randomisation_code="" if self.blinded else (code or ""),
            )

    def _allocation_code(self, arm: str | None) -> int | None:
        if arm is None:
            return None
        if self.blinded:
            assert self.masking is not None
            return GROUP_CODES[self.masking[arm]]
        return ARM_CODES[arm]

    # --- columns every dataset shares --------------------------------------------------

    def study_id_column(self) -> Column:
        return Column(
            "STUDY_ID",
            "Study ID (pseudonym; the key to persons stays in the EDC)",
            VarType.TEXT,
            key=True,
        )

    def site_column(self) -> Column:
        return Column(
            "SITE",
            "Recruiting community mental health centre (randomisation stratum)",
            VarType.INTEGER,
            value_labels=self.site_labels,
        )

    def allocation_column(self) -> Column:
        if self.blinded:
            return Column(
                "GROUP",
                "Masked allocation group (key sealed until the database is locked)",
                VarType.INTEGER,
                value_labels=GROUP_LABELS,
                missing=(NOT_APPLICABLE.code,),
                derivation="Arm replaced by a masked group code; not applicable if not randomised",
            )
        return Column(
            "ARM",
            "Randomised arm",
            VarType.INTEGER,
            value_labels=ARM_LABELS,
            missing=(NOT_APPLICABLE.code,),
            derivation="From the allocation; not applicable if not randomised",
        )

    def allocation_value(self, facts: ParticipantFacts) -> int:
        return facts.allocation if facts.allocation is not None else NOT_APPLICABLE.code

    def days_from_randomisation(self, facts: ParticipantFacts, day: date | None) -> int | None:
        """Days from the randomisation date (day 0): negative before it. Not applicable for
        someone never randomised; None (system missing) when the date itself is missing."""
        if facts.randomised_on is None:
            return NOT_APPLICABLE.code
        if day is None:
            return None
        return (day - facts.randomised_on).days
