"""`signatures`: one row per electronic signature of a visit (casebooks): which participant's
which visit, the signer's role, the meaning, when (days from randomisation, as every date of
the datasets) and whether it still holds at the snapshot (the visit's forms hash as they did
when signed). The signer's name stays in the EDC: names never leave it. A signature holds no
arm, so blinded exports carry it too."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from django.db.models.functions import Collate
from django.utils import timezone

from assessments.models import InstrumentResponse
from casebooks import canonical
from casebooks.models import Meaning, Signature, Subject
from datasets.base import Column, Dataset, Row
from datasets.base import VarType as T
from datasets.context import NO_YES, ExportContext
from datasets.instruments import TIMEPOINT_NUMBERS
from datasets.responses import timepoint_labels
from trial.roles import Role

SIGNER_ROLES = (Role.INVESTIGATOR, Role.DATA_MANAGER, Role.STATISTICIAN)


def role_labels() -> tuple[tuple[int, str], ...]:
    return tuple((n, str(role.label)) for n, role in enumerate(SIGNER_ROLES, start=1))


def meaning_labels() -> tuple[tuple[int, str], ...]:
    return tuple((n, str(label)) for n, (_, label) in enumerate(Meaning.choices, start=1))


class SignaturesBuilder:
    name = "signatures"
    reveals_allocation = False

    def columns(self, context: ExportContext) -> list[Column]:
        return [
            Column("SIGNATURE_ID", "Signature (number in the EDC)", T.INTEGER, key=True),
            context.study_id_column(),
            context.site_column(),
            Column("TIMEPOINT", "Visit signed", T.INTEGER, value_labels=timepoint_labels()),
            Column("SIGNER_ROLE", "Signer's role", T.INTEGER, value_labels=role_labels()),
            Column("MEANING", "Meaning of the signature", T.INTEGER, value_labels=meaning_labels()),
            context.day_column(
                "SIGNED_DAY",
                "Signed, days from randomisation",
                "Date signed − randomisation date.",
            ),
            Column(
                "INTACT",
                "Signature intact at the snapshot",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 when the SHA-256 of the visit's forms (versions, items, missing "
                "reasons, comments, scores) equals the hash signed; 0 when a form changed since.",
            ),
        ]

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        yield Dataset(
            name="signatures",
            label="Electronic signatures of visits: one row per signature",
            description="The investigators' signatures of the participants' visits and whether "
            "each still holds; the signer's name is not exported.",
            columns=self.columns(context),
            chunks=lambda: self._chunks(context),
            odm=None,  # data management, not clinical data
            sources=(Signature,),
        )

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        roles = {role.value: n for n, role in enumerate(SIGNER_ROLES, start=1)}
        meanings = {value: n for n, value in enumerate(Meaning.values, start=1)}
        signatures = list(
            Signature.objects.filter(subject=Subject.VISIT)
            .order_by(Collate("participant__study_id", "C"), "signed_at", "id")
            .values_list(
                "id",
                "participant_id",
                "timepoint",
                "signer_role",
                "meaning",
                "signed_at",
                "content_sha256",
            )
        )
        visits: dict[tuple[int, str], list[InstrumentResponse]] = defaultdict(list)
        for response in InstrumentResponse.objects.filter(
            participant_id__in={row[1] for row in signatures}
        ):
            visits[(response.participant_id, response.timepoint)].append(response)
        hashes: dict[tuple[int, str], str] = {}
        chunk: list[Row] = []
        for pk, participant_id, timepoint, role, meaning, signed_at, signed_hash in signatures:
            facts = context.participants[participant_id]
            key = (participant_id, timepoint)
            if key not in hashes:
                content = canonical.visit_content_of(facts.study_id, timepoint, visits[key])
                hashes[key] = canonical.sha256_of(content)
            chunk.append(
                (
                    pk,
                    facts.study_id,
                    facts.site_number,
                    TIMEPOINT_NUMBERS[timepoint],
                    roles[role],
                    meanings[meaning],
                    context.days_from_randomization(facts, timezone.localdate(signed_at)),
                    int(hashes[key] == signed_hash),
                )
            )
        yield chunk
