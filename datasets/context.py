"""What every dataset builder shares inside one export: who asked, the blinding, the instrument
catalogue, one index of participants (study ID, site, randomisation date, arm or masked group,
status), read once from the snapshot, and the notes that end up in the manifest (what was left
out and why, CPR numbers removed from text)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.contrib.auth.models import AnonymousUser
from django.db.models.functions import Collate
from django.utils import timezone

from datasets.base import Column, VarType, not_applicable
from datasets.instruments import InstrumentMeta
from participants.models import Participant
from trial.access import Viewer

# Arm codes of unblinded exports: a treatment indicator, as the analysis models use it.
ARM_CODES = {"IMR": 1, "TAU": 0}
ARM_LABELS = ((1, "IMR + treatment as usual"), (0, "Treatment as usual"))
# Masked group codes of blinded exports; which arm is A stays sealed until after the lock.
GROUP_CODES = {"A": 1, "B": 2}
GROUP_LABELS = ((1, "Group A"), (2, "Group B"))
# What a blinded export before the lock leaves out (#11): the masked group too.
ALLOCATION_COLUMNS = frozenset({"GROUP"})

# The demographics instrument declares the participant-level facts every dataset shares.
DEMOG = "DEMOG"
NO_YES = ((0, "No"), (1, "Yes"))


@dataclass(frozen=True)
class ParticipantFacts:
    id: int
    study_id: str
    site_number: int
    randomized_on: date | None
    allocation: int | None  # the arm code (unblinded) or the masked group code (blinded)
    arm: str | None  # "IMR"/"TAU": for unblinded builders only, never written when blinded
    status: str
    status_date: date | None


EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ParticipantArrays:
    """The participant index as arrays, for builders that arrange a chunk column by column
    (`rows()` finds each participant's row): ids ascending, and per id its study ID, site
    number, allocation value (`ExportContext.allocation_value`) and randomisation date as days
    since 1970-01-01 (valid where `randomised`)."""

    ids: np.ndarray
    study_id: pa.Array
    site: np.ndarray
    allocation: np.ndarray
    day0: np.ndarray
    randomised: np.ndarray

    def rows(self, ids: np.ndarray) -> np.ndarray:
        rows = np.searchsorted(self.ids, ids)
        if len(ids) and (rows.max() >= len(self.ids) or not np.array_equal(self.ids[rows], ids)):
            raise ValueError("A row refers to a participant outside the snapshot's index.")
        return rows

    def days_from_randomization(self, rows: np.ndarray, days: pa.Array) -> pa.Array:
        """`ExportContext.days_from_randomization` for the participants at `rows` and the
        dates `days` (date32): null where either is missing."""
        day0 = pa.array(self.day0[rows], mask=~self.randomised[rows])
        return pc.subtract(days.cast(pa.int32()).cast(pa.int64()), day0)


@dataclass(frozen=True)
class Withheld:
    """Something an export deliberately does not contain, and why (manifest, codebook)."""

    what: str
    why: str


@dataclass
class ExportContext:
    blinded: bool
    masking: Mapping[str, str] | None
    catalogue: Mapping[str, InstrumentMeta]
    # Who asked: the scoped selectors of other apps read as this user.
    user: Viewer = field(default_factory=AnonymousUser)
    # Whether the database was locked at the snapshot. A blinded export made before the lock
    # carries no allocation variable at all, not even the masked group (#11): grouped
    # outcomes before the lock would let a blinded reader guess which group is which.
    locked: bool = True
    # False for the data dictionary, which describes the datasets without reading any data
    # (its cost must not grow with the trial: it skips the check of the stored forms).
    reads_data: bool = True
    participants: dict[int, ParticipantFacts] = field(default_factory=dict)
    redactions: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    # Counts of what the snapshot holds but no dataset contains (e.g. draft forms).
    not_exported: dict[str, int] = field(default_factory=dict)
    # The Parquet file of each dataset already read from the snapshot in this export, by name
    # (the wide dataset is arranged from the staged long ones, so both always agree).
    staged: dict[str, Path] = field(default_factory=dict)
    _arrays: ParticipantArrays | None = field(default=None, init=False, repr=False)

    def load_participants(self) -> None:
        """Read the participant index from the current transaction (the snapshot)."""
        if self.blinded and not self.masking:
            raise ValueError("A blinded export needs the masking key.")
        rows = (
            Participant.objects.order_by(Collate("study_id", "C"))
            .values_list(
                "id",
                "study_id",
                "site__number",
                "allocation__arm",
                "allocation__randomized_at",
                "status",
                "status_date",
            )
            .iterator(chunk_size=5000)
        )
        for pk, study_id, site_number, arm, randomized_at, status, status_date in rows:
            facts = ParticipantFacts(
                id=pk,
                study_id=study_id,
                site_number=site_number,
                randomized_on=timezone.localdate(randomized_at) if randomized_at else None,
                allocation=self._allocation_code(arm),
                arm=None if self.blinded else arm,
                status=status,
                status_date=status_date,
            )
            self.participants[pk] = facts

    def arrays(self) -> ParticipantArrays:
        """`participants` as arrays (made once, after load_participants)."""
        if self._arrays is None:
            people = sorted(self.participants.values(), key=lambda facts: facts.id)
            self._arrays = ParticipantArrays(
                ids=np.array([facts.id for facts in people], dtype=np.int64),
                study_id=pa.array([facts.study_id for facts in people], type=pa.string()),
                site=np.array([facts.site_number for facts in people], dtype=np.int64),
                allocation=np.array(
                    [self.allocation_value(facts) for facts in people], dtype=np.int64
                ),
                day0=np.array(
                    [(f.randomized_on - EPOCH).days if f.randomized_on else 0 for f in people],
                    dtype=np.int64,
                ),
                randomised=np.array([f.randomized_on is not None for f in people], dtype=bool),
            )
        return self._arrays

    def _allocation_code(self, arm: str | None) -> int | None:
        if arm is None:
            return None
        if self.blinded:
            assert self.masking is not None
            return GROUP_CODES[self.masking[arm]]
        return ARM_CODES[arm]

    @property
    def withholds_allocation(self) -> bool:
        return self.blinded and not self.locked

    def instruments(self) -> list[InstrumentMeta]:
        """The form instruments this export carries, in the registry's order. A blinded export
        leaves out the forms blinded users may not read (IMRS_C)."""
        return [
            meta
            for meta in self.catalogue.values()
            if meta.form_entry and (meta.blinded_readable or not self.blinded)
        ]

    def withhold(self, what: str, why: str) -> None:
        note = Withheld(what, why)
        if note not in self.withheld:
            self.withheld.append(note)

    # --- columns every dataset shares ------------------------------------------------------

    def study_id_column(self) -> Column:
        return Column(
            "STUDY_ID",
            "Study ID (pseudonym; the key to persons stays in the EDC)",
            VarType.TEXT,
            key=True,
        )

    def _demog(self, code: str) -> Any:
        return self.catalogue[DEMOG].variable(code)

    def site_column(self) -> Column:
        site = self._demog("SITE")
        return Column(
            "SITE",
            site.label,
            VarType.INTEGER,
            value_labels=tuple(site.value_labels.items()),
            instrument=DEMOG,
            derivation=site.derivation,
            source="SITE",
            notes="Randomisation stratum",
        )

    def allocation_column(self) -> Column:
        if self.blinded:
            return Column(
                "GROUP",
                "Masked allocation group (key sealed until the database is locked)",
                VarType.INTEGER,
                value_labels=GROUP_LABELS,
                missing=(not_applicable(),),
                derivation="Arm replaced by a masked group code; not applicable if not randomised",
            )
        return Column(
            "ARM",
            "Randomised arm",
            VarType.INTEGER,
            value_labels=ARM_LABELS,
            missing=(not_applicable(),),
            derivation="From the allocation; not applicable if not randomised",
        )

    def allocation_value(self, facts: ParticipantFacts) -> int:
        return facts.allocation if facts.allocation is not None else not_applicable()

    def day_column(self, name: str, label: str, derivation: str, **extra: Any) -> Column:
        """Days relative to randomisation. Negative before it, so no missing-value codes: an
        empty value means no date (or no randomisation; see RANDOMISED)."""
        return Column(
            name,
            label,
            VarType.INTEGER,
            derivation=derivation + " Empty when there is no date or no randomisation.",
            notes="Days; negative before randomisation",
            **extra,
        )

    def days_from_randomization(self, facts: ParticipantFacts, day: date | None) -> int | None:
        """Days from the randomisation date (day 0): negative before it. None (system missing)
        when the participant was never randomised or the date itself is missing."""
        if facts.randomized_on is None or day is None:
            return None
        return (day - facts.randomized_on).days
