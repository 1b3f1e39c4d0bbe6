"""PANSS, Positive and Negative Syndrome Scale (SPEC §3): 30 items rated 1–7, three subscale
sums and the total. Prorated `_PRO` sensitivity scores follow the [P] rule of the spec."""

from __future__ import annotations

from fractions import Fraction

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Answers,
    Instrument,
    Label,
    Mode,
    Number,
    Score,
    as_json_number,
    levels,
    numbered,
    prorated,
    sum_of,
    with_guidance,
)
from trial.roles import Role

SEVERITY = levels(
    [
        (1, _("absent")),
        (2, _("minimal")),
        (3, _("mild")),
        (4, _("moderate")),
        (5, _("moderate severe")),
        (6, _("severe")),
        (7, _("extreme")),
    ]
)
RANGE = dict(type="integer", min=1, max=7, step=1, options=SEVERITY)

POSITIVE = numbered(
    [
        ("P1", _("Delusions")),
        ("P2", _("Conceptual disorganization")),
        ("P3", _("Hallucinatory behaviour")),
        ("P4", _("Excitement")),
        ("P5", _("Grandiosity")),
        ("P6", _("Suspiciousness/persecution")),
        ("P7", _("Hostility")),
    ],
    group=_("Positive scale"),
    **RANGE,
)
NEGATIVE = numbered(
    [
        ("N1", _("Blunted affect")),
        ("N2", _("Emotional withdrawal")),
        ("N3", _("Poor rapport")),
        ("N4", _("Passive/apathetic social withdrawal")),
        ("N5", _("Difficulty in abstract thinking")),
        ("N6", _("Lack of spontaneity and flow of conversation")),
        ("N7", _("Stereotyped thinking")),
    ],
    group=_("Negative scale"),
    **RANGE,
)
GENERAL = numbered(
    [
        ("G1", _("Somatic concern")),
        ("G2", _("Anxiety")),
        ("G3", _("Guilt feelings")),
        ("G4", _("Tension")),
        ("G5", _("Mannerisms and posturing")),
        ("G6", _("Depression")),
        ("G7", _("Motor retardation")),
        ("G8", _("Uncooperativeness")),
        ("G9", _("Unusual thought content")),
        ("G10", _("Disorientation")),
        ("G11", _("Poor attention")),
        ("G12", _("Lack of judgment and insight")),
        ("G13", _("Disturbance of volition")),
        ("G14", _("Poor impulse control")),
        ("G15", _("Preoccupation")),
        ("G16", _("Active social avoidance")),
    ],
    group=_("General psychopathology scale"),
    **RANGE,
)
# What each item rates, paraphrased (one line each; the licensed manual defines them
# fully). The anchors are the seven severity levels shared by every item.
GUIDANCE: dict[str, tuple[Label, dict[int, Label]]] = {
    "P1": (_("Beliefs that are unfounded, unrealistic and idiosyncratic."), {}),
    "P2": (_("Disorganised thinking: goal-directed thought and speech are disrupted."), {}),
    "P3": (_("Perceptions not caused by outside stimuli (hearing, seeing, smelling ...)."), {}),
    "P4": (_("Overactivity: motor acceleration, more responsive to stimuli, mood swings."), {}),
    "P5": (_("Exaggerated self-opinion and unrealistic convictions of superiority."), {}),
    "P6": (_("Exaggerated ideas of persecution: guardedness, distrust, suspicion."), {}),
    "P7": (_("Verbal and non-verbal expressions of anger and resentment."), {}),
    "N1": (_("Less emotional response: fewer expressions, gestures, less modulation."), {}),
    "N2": (_("Loss of interest in, involvement with and commitment to the events of life."), {}),
    "N3": (_("Lack of warmth and engagement in the interview; distance in communication."), {}),
    "N4": (_("Less interest in and initiative for social contact, from passivity or apathy."), {}),
    "N5": (_("Difficulty with abstract or symbolic thinking (proverbs, similarities)."), {}),
    "N6": (_("Less normal flow of conversation: apathy, little spontaneous speech."), {}),
    "N7": (_("Less fluid, flexible thinking: rigid, repetitive or barren content."), {}),
    "G1": (_("Complaints or beliefs about bodily illness or malfunction."), {}),
    "G2": (_("Nervousness, worry, apprehension or restlessness."), {}),
    "G3": (_("Remorse or self-blame for real or imagined misdeeds in the past."), {}),
    "G4": (_("Overt physical signs of fear, anxiety and agitation."), {}),
    "G5": (_("Unnatural movements or posture: clumsy, stilted, bizarre."), {}),
    "G6": (_("Feelings of sadness, discouragement, helplessness and pessimism."), {}),
    "G7": (_("Reduced movement and speech: slowed, less responsive, low tone."), {}),
    "G8": (_("Active refusal to comply with the interviewer, staff or family."), {}),
    "G9": (_("Thoughts that are strange, fantastic or bizarre, whether delusional or not."), {}),
    "G10": (_("Confusion about person, place or time."), {}),
    "G11": (_("Failure of focused alertness: poor concentration, distractibility."), {}),
    "G12": (_("Impaired awareness of one's own psychiatric condition and life situation."), {}),
    "G13": (_("Trouble starting, keeping up and controlling thoughts and actions."), {}),
    "G14": (_("Disordered regulation and control of actions on inner urges."), {}),
    "G15": (_("Absorbed in inner thoughts and feelings, at the expense of reality."), {}),
    "G16": (_("Less social involvement, because of unwarranted fear, hostility or distrust."), {}),
}
POSITIVE = with_guidance(POSITIVE, GUIDANCE)
NEGATIVE = with_guidance(NEGATIVE, GUIDANCE)
GENERAL = with_guidance(GENERAL, GUIDANCE)
P = tuple(item.code for item in POSITIVE)
N = tuple(item.code for item in NEGATIVE)
G = tuple(item.code for item in GENERAL)
ALL = P + N + G


def _total_prorated(answers: Answers) -> Number | None:
    """Mean of the rated items × 30 when at most 1 item is missing in P, 1 in N, 2 in G and
    3 in all."""
    if (
        answers.missing_count(P) > 1
        or answers.missing_count(N) > 1
        or answers.missing_count(G) > 2
        or answers.missing_count(ALL) > 3
    ):
        return None
    rated = [Fraction(str(v)) for v in answers.answered(ALL)]
    return as_json_number(sum(rated, Fraction(0)) / len(rated) * len(ALL), 2)


def _subscale(code: str, label: object, items: tuple[str, ...], low: int, high: int) -> Score:
    return Score(
        code,
        label,  # type: ignore[arg-type]
        items,
        "sum",
        low,
        high,
        "worse",
        format_lazy(
            _("Sum of {first}–{last}; missing if any of them is missing."),
            first=items[0],
            last=items[-1],
        ),
        sum_of(items),
    )


def _subscale_pro(code: str, label: object, items: tuple[str, ...], max_missing: int) -> Score:
    return Score(
        code,
        label,  # type: ignore[arg-type]
        items,
        "prorated",
        len(items),
        7 * len(items),
        "worse",
        format_lazy(
            _(
                "Sensitivity: mean of the rated items of {first}–{last} × {n} when at most "
                "{k} of them is missing; rounded to 2 decimals."
            ),
            first=items[0],
            last=items[-1],
            n=len(items),
            k=max_missing,
        ),
        prorated(items, max_missing=max_missing),
        sensitivity=True,
        decimals=2,
    )


INSTRUMENT = Instrument(
    code="PANSS",
    name=_("Positive and Negative Syndrome Scale (Kay, Fiszbein & Opler 1987)"),
    short_name=_("PANSS"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_(
        "Blinded research assessor; semi-structured interview (SCI-PANSS) plus informant and "
        "staff reports."
    ),
    reference_period=_("The past week."),
    timepoints=ALL_TIMEPOINTS,
    items=POSITIVE + NEGATIVE + GENERAL,
    scores=(
        _subscale("PANSS_P", _("Positive subscale"), P, 7, 49),
        _subscale("PANSS_N", _("Negative subscale"), N, 7, 49),
        _subscale("PANSS_G", _("General psychopathology subscale"), G, 16, 112),
        Score(
            "PANSS_TOTAL",
            _("PANSS total"),
            ALL,
            "sum",
            30,
            210,
            "worse",
            _("Sum of all 30 items; missing if any item is missing."),
            sum_of(ALL),
        ),
        _subscale_pro("PANSS_P_PRO", _("Positive subscale, prorated (sensitivity)"), P, 1),
        _subscale_pro("PANSS_N_PRO", _("Negative subscale, prorated (sensitivity)"), N, 1),
        _subscale_pro(
            "PANSS_G_PRO", _("General psychopathology subscale, prorated (sensitivity)"), G, 2
        ),
        Score(
            "PANSS_TOTAL_PRO",
            _("PANSS total, prorated (sensitivity)"),
            ALL,
            "prorated",
            30,
            210,
            "worse",
            _(
                "Sensitivity: mean of the rated items × 30 when at most 1 item is missing in P, "
                "1 in N, 2 in G and 3 in all; rounded to 2 decimals."
            ),
            _total_prorated,
            sensitivity=True,
            decimals=2,
        ),
    ),
    missing_rule=_(
        "Primary: a subscale is missing if any of its items is missing; the total is missing "
        "if any of the 30 items is missing. Sensitivity (_PRO): mean of the rated items × "
        "number of items when at most 1 item is missing in P or N and 2 in G, never more than "
        "3 in total."
    ),
    notes=(_("Items are 1–7 (1 = absent); 0 is invalid. Integer ratings only."),),
)
