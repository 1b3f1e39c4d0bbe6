"""What the analysis datasets must contain, worked out here straight from the database, the
instrument modules (the specification of the forms) and the trial's rules, independently of the
export code. Each function returns the rows of one dataset as {variable: value}, in file order,
with missing values as the instruments app's reason codes and empty values as None."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from assessments.models import InstrumentResponse, Query, ServiceUsePeriod
from assessments.windows import service_use_windows
from casebooks import canonical
from casebooks.models import Meaning, Signature
from fidelity.models import Attendance, FidelityRating, GroupMembership, GroupSession
from instruments import metadata, registry
from participants.models import Participant
from randomization.models import BlindingGuess, UnblindingIncident

STATUS_NUMBER = {
    "registered": 1, "eligible": 2, "ineligible": 3, "consented": 4, "randomized": 5,
    "withdrawn": 6, "lost_to_follow_up": 7, "deceased": 8,
}  # fmt: skip
NA = metadata.MISSING_CODES["not_applicable"]
TIMEPOINT = {"baseline": 0, "post": 1, "followup": 2}
DONE = ("complete", "verified")
WINDOWS = ("W_PRE", "W1", "W2", "W_ALL")


def day0(participant: Participant) -> date | None:
    allocation = getattr(participant, "allocation", None)
    return timezone.localtime(allocation.randomized_at).date() if allocation else None


def days(participant: Participant, day: date | None) -> int | None:
    start = day0(participant)
    return (day - start).days if start and day else None


def allocation_key(masking: dict[str, str] | None) -> str:
    return "ARM" if masking is None else "GROUP"


def allocation_code(participant: Participant, masking: dict[str, str] | None) -> int:
    allocation = getattr(participant, "allocation", None)
    if allocation is None:
        return NA
    if masking is None:
        return {"IMR": 1, "TAU": 0}[allocation.arm]
    return {"A": 1, "B": 2}[masking[allocation.arm]]


def people() -> list[Participant]:
    return sorted(
        Participant.objects.select_related("site", "allocation"), key=lambda p: p.study_id
    )


def form_variables(code: str) -> list[metadata.Variable]:
    return [v for v in metadata.variables(registry.get(code)) if v.kind != "derived"]


def stored_value(response: InstrumentResponse, variable: metadata.Variable) -> Any:
    store = response.scores if variable.kind == "score" else response.items
    value = store.get(variable.code)
    if value is None:
        reason = response.missing.get(variable.code)
        if reason and variable.type in ("integer", "decimal"):
            return metadata.MISSING_CODES[reason]
        return None
    return float(value) if variable.type == "decimal" else value


def participants_rows(masking: dict[str, str] | None) -> list[dict[str, Any]]:
    demog_forms = {
        r.participant_id: r
        for r in InstrumentResponse.objects.filter(
            instrument="DEMOG", timepoint="baseline", status__in=DONE
        )
    }
    demographics = form_variables("DEMOG")
    rows = []
    for p in people():
        start = day0(p)
        screening = p.screenings.order_by("-screened_at").first()
        form = demog_forms.get(p.pk)
        row: dict[str, Any] = {
            "STUDY_ID": p.study_id,
            "SITE": p.site.number,
            allocation_key(masking): allocation_code(p, masking),
            "RANDOMISED": int(start is not None),
            "STATUS": STATUS_NUMBER[p.status],
            "WITHDRAWN": int(p.status == "withdrawn"),
            "SEX": {"male": 1, "female": 2}[p.sex],
            "AGE": relativedelta(start, p.date_of_birth).years if start else NA,
            "SCREEN_DX": {"F20": 1, "F31": 2, "other": 3}[screening.diagnosis]
            if screening
            else None,
        }
        for variable in demographics:
            row[variable.code] = stored_value(form, variable) if form else None
        row["REG_DAY"] = days(p, timezone.localtime(p.registered_at).date())
        row["CONSENT_DAY"] = days(p, p.consent_date)
        closed = p.status in ("withdrawn", "lost_to_follow_up", "deceased")
        row["END_DAY"] = days(p, p.status_date) if closed else None
        rows.append(row)
    return rows


def response_rows(code: str, masking: dict[str, str] | None) -> list[dict[str, Any]]:
    responses = InstrumentResponse.objects.filter(instrument=code, status__in=DONE).select_related(
        "participant__site", "participant__allocation"
    )
    rows = []
    for r in sorted(responses, key=lambda r: (r.participant.study_id, TIMEPOINT[r.timepoint])):
        row = {
            "STUDY_ID": r.participant.study_id,
            "SITE": r.participant.site.number,
            allocation_key(masking): allocation_code(r.participant, masking),
            "INSTRUMENT": code,
            "TIMEPOINT": TIMEPOINT[r.timepoint],
            "ASSESS_DAY": days(r.participant, r.interview_date),
            "VERIFIED": int(r.status == "verified"),
        }
        row |= {v.code: stored_value(r, v) for v in form_variables(code)}
        rows.append(row)
    return rows


def wide_rows(masking: dict[str, str] | None, instruments: list[str]) -> list[dict[str, Any]]:
    rows = {
        p.study_id: {
            "STUDY_ID": p.study_id,
            "SITE": p.site.number,
            allocation_key(masking): allocation_code(p, masking),
        }
        for p in people()
    }
    for code in instruments:
        instrument = registry.get(code)
        names = {"baseline": "T0", "post": "T1", "followup": "T2"}
        timepoints = [tp for tp in ("baseline", "post", "followup") if tp in instrument.timepoints]
        long = {(r["STUDY_ID"], r["TIMEPOINT"]): r for r in response_rows(code, masking)}
        for study_id, row in rows.items():
            for tp in timepoints:
                found = long.get((study_id, TIMEPOINT[tp]))
                row[f"{code}_DAY_{names[tp]}"] = found["ASSESS_DAY"] if found else None
            for variable in form_variables(code):
                for tp in timepoints:
                    found = long.get((study_id, TIMEPOINT[tp]))
                    row[f"{variable.code}_{names[tp]}"] = found[variable.code] if found else None
    return list(rows.values())


def service_use_rows(masking: dict[str, str] | None) -> list[dict[str, Any]]:
    periods = defaultdict(list)
    for period in ServiceUsePeriod.objects.filter(register_import__superseded_by__isnull=True):
        periods[period.participant_id].append(period)
    today = timezone.localdate()
    rows = []
    for p in people():
        start = day0(p)
        if start is None:
            continue
        died = p.status_date if p.status == "deceased" else None
        spans = service_use_windows(start)
        for number, window in enumerate(WINDOWS, start=1):
            first, last = spans[window]
            own = periods.get(p.pk, [])
            inside = [x for x in own if first <= x.period_start and x.period_end <= last]
            crossing = [x for x in own if x not in inside and x.period_start <= last
                        and x.period_end >= first]  # fmt: skip
            linked = 2 if not own else (3 if crossing else 1)
            counts: list[Any] = [None] * 4
            if linked == 1:
                counts = [sum(x.admissions for x in inside), sum(x.admission_days for x in inside),
                          sum(x.emergency_visits for x in inside),
                          sum(x.outpatient_contacts for x in inside)]  # fmt: skip
            length = (last - first).days + 1
            gone = died is not None and died <= last
            rows.append(
                {
                    "STUDY_ID": p.study_id,
                    "SITE": p.site.number,
                    allocation_key(masking): allocation_code(p, masking),
                    "WINDOW": number,
                    "WIN_START": (first - start).days,
                    "WIN_END": (last - start).days,
                    "WIN_DAYS": length,
                    "LINKED": linked,
                    "ADM_N": counts[0],
                    "ADM_DAYS": counts[1],
                    "ER_N": counts[2],
                    "OPC_N": counts[3],
                    "DAYS_AT_RISK": max(0, (died - first).days + 1)
                    if died is not None and gone
                    else length,
                    "DIED": int(gone),
                    "WIN_OVER": int(last < today),
                }
            )
    return rows


def query_rows(blinded: bool) -> list[dict[str, Any]]:
    queries = Query.objects.select_related("response__participant__site").prefetch_related(
        "messages"
    )
    if blinded:
        queries = queries.exclude(response__instrument="IMRS_C")
    rows = []
    for q in sorted(queries, key=lambda q: (q.response.participant.study_id, q.pk)):
        p = q.response.participant
        raised = timezone.localdate(q.raised_at)
        closed = timezone.localdate(q.closed_at) if q.status == "closed" else None
        answered = timezone.localdate(q.answered_at) if q.answered_at else None
        messages = list(q.messages.all())
        rows.append(
            {
                "QUERY_ID": q.pk,
                "STUDY_ID": p.study_id,
                "SITE": p.site.number,
                "INSTRUMENT": q.response.instrument,
                "TIMEPOINT": TIMEPOINT[q.response.timepoint],
                "ITEM": q.item,
                "KIND": {"manual": 1, "automatic": 2}[q.kind],
                "EDIT_CHECK": q.edit_check,
                "STATUS": {"open": 1, "answered": 2, "closed": 3}[q.status],
                "RAISED_DAY": days(p, raised),
                "ANSWERED_DAY": days(p, answered),
                "CLOSED_DAY": days(p, closed),
                "DAYS_TO_CLOSE": (closed - raised).days if closed else None,
                "MESSAGES": len(messages),
                "REOPENED": sum(1 for m in messages if m.action == "reopened"),
            }
        )
    return rows


def signatures_rows() -> list[dict[str, Any]]:
    """Visit signatures: the signer's role and the meaning numbered in their choices' order,
    intact when the visit's forms hash as they did when signed."""
    roles = {"investigator": 1, "data_manager": 2, "statistician": 3}
    meanings = {value: n for n, (value, _) in enumerate(Meaning.choices, start=1)}
    signatures = Signature.objects.filter(subject="visit").select_related("participant__site")
    rows = []
    for s in sorted(signatures, key=lambda s: (str(s.participant), s.signed_at, s.pk)):
        p = s.participant
        assert p is not None  # a visit's signature has its participant
        now = canonical.sha256_of(canonical.visit_content(p, s.timepoint))
        rows.append(
            {
                "SIGNATURE_ID": s.pk,
                "STUDY_ID": p.study_id,
                "SITE": p.site.number,
                "TIMEPOINT": TIMEPOINT[s.timepoint],
                "SIGNER_ROLE": roles[s.signer_role],
                "MEANING": meanings[s.meaning],
                "SIGNED_DAY": days(p, timezone.localdate(s.signed_at)),
                "INTACT": int(now == s.content_sha256),
            }
        )
    return rows


def attendance_rows() -> list[dict[str, Any]]:
    held = GroupSession.objects.filter(status="held").order_by("group_id", "date", "id")
    numbers: dict[int, int] = {}
    per_group: Counter[int] = Counter()
    for session in held:
        per_group[session.group_id] += 1
        numbers[session.pk] = per_group[session.group_id]
    records = Attendance.objects.select_related("participant__site", "session")
    rows = []
    for a in sorted(records, key=lambda a: (a.participant.study_id, a.session.date, a.session_id)):
        rows.append(
            {
                "STUDY_ID": a.participant.study_id,
                "SITE": a.participant.site.number,
                "GROUP_ID": a.session.group_id,
                "SESSION_ID": a.session_id,
                "SESSION_NO": numbers[a.session_id],
                "SESSION_DAY": days(a.participant, a.session.date),
                "MODULE": a.session.module,
                "PRESENT": int(a.present),
            }
        )
    return rows


def exposure_rows() -> list[dict[str, Any]]:
    groups = dict(GroupMembership.objects.values_list("participant_id", "group_id"))
    rows = []
    for p in people():
        if getattr(p, "allocation", None) is None or p.allocation.arm != "IMR":
            continue
        attended = sorted(
            a.session.date
            for a in Attendance.objects.filter(participant=p, present=True).select_related(
                "session"
            )
            if a.session.status != "cancelled"
        )
        n = len(attended)
        rows.append(
            {
                "STUDY_ID": p.study_id,
                "SITE": p.site.number,
                "GROUP_ID": groups.get(p.pk),
                "SESSIONS": n,
                "FIRST_DAY": days(p, attended[0]) if attended else None,
                "EXP_CAT": 1 if n == 0 else 2 if n <= 10 else 3 if n <= 20 else 4,
                "PP_GT10": int(n > 10),
                "GT20": int(n > 20),
            }
        )
    return rows


def fidelity_rows() -> list[dict[str, Any]]:
    ratings = FidelityRating.objects.select_related("group__site")
    by_key: dict[tuple[int, str], dict[str, FidelityRating]] = defaultdict(dict)
    for r in ratings:
        by_key[(r.group_id, r.timepoint)][r.rater_kind] = r
    rows = []
    for (group_id, timepoint), kinds in sorted(
        by_key.items(),
        key=lambda kv: (next(iter(kv[1].values())).group.name, kv[0][1] != "midway"),
    ):
        group = next(iter(kinds.values())).group
        consensus = kinds.get("consensus")
        row: dict[str, Any] = {
            "GROUP_ID": group_id,
            "GROUP_NAME": group.name,
            "SITE": group.site.number,
            "FID_TP": {"midway": 1, "end": 2}[timepoint],
            "MEMBERS": GroupMembership.objects.filter(group_id=group_id).count(),
            "RATED_DAY": (consensus.rated_on - group.start_date).days if consensus else None,
        }
        for n in range(1, 14):
            row[f"FID_{n}"] = consensus.items[f"FID_{n}"] if consensus else None
        total = sum(consensus.items.values()) if consensus else None
        row["FID_TOTAL"] = total
        row["FID_MEAN"] = mean_of_13(total) if total is not None else None
        row["FID_BAND"] = (3 if total >= 52 else 2 if total >= 39 else 1) if total else None
        for kind, name in (("rater1", "FID_MEAN_R1"), ("rater2", "FID_MEAN_R2")):
            row[name] = mean_of_13(sum(kinds[kind].items.values())) if kind in kinds else None
        rows.append(row)
    return rows


def mean_of_13(total: int) -> float:
    """The codebook's rounding policy: exact, then once half up to 3 decimals."""
    return float((Decimal(total) / 13).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def blinding_rows() -> list[dict[str, Any]]:
    unblinded = {i.person_id: i.learned_on for i in UnblindingIncident.objects.all()}
    rows = []
    for p in people():
        if getattr(p, "allocation", None) is None:
            continue
        for timepoint, number in (("post", 1), ("followup", 2)):
            guess = BlindingGuess.objects.filter(participant=p, timepoint=timepoint).first()
            forms = list(
                InstrumentResponse.objects.filter(
                    participant=p, timepoint=timepoint, status__in=DONE
                )
            )
            if guess is None and not forms:
                continue
            flagged = [
                f.instrument
                for f in forms
                if f.rater_id in unblinded
                and f.interview_date is not None
                and f.interview_date >= unblinded[f.rater_id]
            ]
            order = list(registry.codes())
            guess_day = timezone.localdate(guess.recorded_at) if guess else None
            rows.append(
                {
                    "STUDY_ID": p.study_id,
                    "SITE": p.site.number,
                    "ARM": {"IMR": 1, "TAU": 0}[p.allocation.arm],
                    "TIMEPOINT": number,
                    "GUESS": {"IMR": 1, "TAU": 0, "dont_know": 9}[guess.guess] if guess else None,
                    "GUESS_OK": int(guess.guess == p.allocation.arm)
                    if guess and guess.guess != "dont_know"
                    else None,
                    "GUESS_DAY": days(p, guess_day),
                    "GUESSER_UNBL": int(
                        guess.assessor_id in unblinded
                        and guess_day is not None
                        and guess_day >= unblinded[guess.assessor_id]
                    )
                    if guess
                    else None,
                    "FORMS": len(forms),
                    "FLAGGED": len(flagged),
                    "FLAGGED_FORMS": " ".join(sorted(flagged, key=order.index)),
                }
            )
    return rows
