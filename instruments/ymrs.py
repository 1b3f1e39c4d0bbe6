"""YMRS, Young Mania Rating Scale (SPEC §5): seven items 0–4 in half points and four
double-weighted items 0–8 in whole points, total 0–60 (may end in .5)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Instrument,
    Item,
    Mode,
    Score,
    sum_of,
    with_guidance,
)
from trial.roles import Role

# The rater manual may restrict ratings to the anchors: then set these to 1 and 2 (SPEC §5).
HALF_POINT_STEP = 0.5
DOUBLE_WEIGHTED_STEP = 1


def _four(code: str, label: object) -> Item:
    return Item(
        code,
        label,  # type: ignore[arg-type]
        type="decimal",
        min=0,
        max=4,
        step=HALF_POINT_STEP,
        anchors=(0, 1, 2, 3, 4),
        help_text=_("Anchors 0–4; half points allowed between anchors."),
    )


def _eight(code: str, label: object) -> Item:
    return Item(
        code,
        label,  # type: ignore[arg-type]
        type="integer",
        min=0,
        max=8,
        step=DOUBLE_WEIGHTED_STEP,
        anchors=(0, 2, 4, 6, 8),
        help_text=_("Double-weighted: anchors 0, 2, 4, 6, 8; odd values between anchors allowed."),
    )


ITEMS: tuple[Item, ...] = (
    _four("YMRS_1", _("Elevated mood")),
    _four("YMRS_2", _("Increased motor activity–energy")),
    _four("YMRS_3", _("Sexual interest")),
    _four("YMRS_4", _("Sleep")),
    _eight("YMRS_5", _("Irritability")),
    _eight("YMRS_6", _("Speech (rate and amount)")),
    _four("YMRS_7", _("Language–thought disorder")),
    _eight("YMRS_8", _("Content")),
    _eight("YMRS_9", _("Disruptive–aggressive behaviour")),
    _four("YMRS_10", _("Appearance")),
    _four("YMRS_11", _("Insight")),
)
# Definitions and anchors, paraphrased (short) from the published scale's descriptions.
GUIDANCE = {
    "YMRS_1": (
        _("A feeling of well-being, cheerfulness or optimism beyond what the situation warrants."),
        {
            0: _("absent"),
            1: _("mildly or possibly raised, when asked"),
            2: _("definitely raised; optimistic, self-confident, fits the content"),
            3: _("raised beyond the content; jocular"),
            4: _("euphoric; laughs or sings out of place"),
        },
    ),
    "YMRS_2": (
        _("Excess energy and physical activity."),
        {
            0: _("absent"),
            1: _("feels more energetic"),
            2: _("lively; gestures more"),
            3: _("excessive energy, at times hyperactive; can be calmed"),
            4: _("constant excitement and hyperactivity; cannot be calmed"),
        },
    ),
    "YMRS_3": (
        _("Increased sexual thoughts, talk or behaviour."),
        {
            0: _("normal"),
            1: _("mildly or possibly increased"),
            2: _("definitely increased, when asked"),
            3: _("brings up sexual matters unprompted; says so"),
            4: _("overt sexual acts towards others"),
        },
    ),
    "YMRS_4": (
        _("Less sleep than usual, or a reduced need for it."),
        {
            0: _("no less sleep"),
            1: _("up to an hour less than usual"),
            2: _("more than an hour less than usual"),
            3: _("says less sleep is needed"),
            4: _("says no sleep is needed"),
        },
    ),
    "YMRS_5": (
        _("Anger and irritability, in the interview and reported for the period."),
        {
            0: _("absent"),
            2: _("feels more irritable"),
            4: _("irritable at times in the interview; recent anger"),
            6: _("often irritable; curt throughout"),
            8: _("hostile, uncooperative; interview impossible"),
        },
    ),
    "YMRS_6": (
        _("How fast and how much the person talks."),
        {
            0: _("no increase"),
            2: _("feels talkative"),
            4: _("faster or more at times; long-winded at times"),
            6: _("consistently faster and more; hard to interrupt"),
            8: _("pressured; cannot be interrupted"),
        },
    ),
    "YMRS_7": (
        _("How thoughts flow and hang together."),
        {
            0: _("absent"),
            1: _("circumstantial; mildly distractible; quick thoughts"),
            2: _("distractible; loses the thread; racing thoughts"),
            3: _("flight of ideas; tangential; hard to follow"),
            4: _("incoherent; communication impossible"),
        },
    ),
    "YMRS_8": (
        _("Unusual, grand or suspicious ideas and plans."),
        {
            0: _("normal"),
            2: _("questionable plans; new interests"),
            4: _("special projects; very religious"),
            6: _("grandiose or paranoid ideas; ideas of reference"),
            8: _("delusions; hallucinations"),
        },
    ),
    "YMRS_9": (
        _("Hostile or disruptive behaviour in the interview and reported for the period."),
        {
            0: _("absent; cooperative"),
            2: _("sarcastic; loud at times; guarded"),
            4: _("demanding; threats"),
            6: _("threatens the interviewer; shouts; interview difficult"),
            8: _("assaultive; destructive; interview impossible"),
        },
    ),
    "YMRS_10": (
        _("Dress and grooming."),
        {
            0: _("appropriate"),
            1: _("slightly unkempt"),
            2: _("poorly groomed; moderately dishevelled; overdressed"),
            3: _("dishevelled; partly dressed; garish make-up"),
            4: _("completely unkempt; bizarre clothing"),
        },
    ),
    "YMRS_11": (
        _("Awareness of being ill and of needing treatment."),
        {
            0: _("admits illness; agrees treatment is needed"),
            1: _("possibly ill"),
            2: _("admits changed behaviour, denies illness"),
            3: _("admits possibly changed behaviour, denies illness"),
            4: _("denies any change in behaviour"),
        },
    ),
}
ITEMS = with_guidance(ITEMS, GUIDANCE)
CODES = tuple(item.code for item in ITEMS)

INSTRUMENT = Instrument(
    code="YMRS",
    name=_("Young Mania Rating Scale (Young et al. 1978)"),
    short_name=_("YMRS"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_(
        "Blinded research assessor; the patient's report of the past 48 hours plus observation "
        "during the interview."
    ),
    reference_period=_("The past 48 hours."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "YMRS_TOTAL",
            _("YMRS total"),
            CODES,
            "sum",
            0,
            60,
            "worse",
            _(
                "Sum of the 11 items (7×0–4 + 4×0–8); may end in .5; missing if any item is "
                "missing."
            ),
            sum_of(CODES, decimals=1),
            decimals=1,
        ),
    ),
    missing_rule=_(
        "The total is missing if any item is missing. The double weighting of items 5, 6, 8 "
        "and 9 is the authors' device for poorly cooperating patients, not a missing-data rule."
    ),
)
