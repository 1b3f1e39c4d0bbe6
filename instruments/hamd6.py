"""HAM-D6, Bech's six-item Hamilton melancholia subscale (SPEC §4): five items 0–4 and one
0–2, total 0–22. No prorating: each item carries unique information."""

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

# Definitions and anchors, paraphrased from the Hamilton scale's published descriptions.
GUIDANCE = {
    "HAMD6_1": (
        _("Sadness, hopelessness, helplessness, worthlessness: in what is said and in manner."),
        {
            0: _("absent"),
            1: _("told only when asked"),
            2: _("told without being asked"),
            3: _("shown without words: face, posture, voice, tears"),
            4: _("almost all the person communicates is about these feelings"),
        },
    ),
    "HAMD6_2": (
        _("Self-reproach, feeling one has let others down, illness felt as a punishment."),
        {
            0: _("absent"),
            1: _("self-reproach; feels has let people down"),
            2: _("ideas of guilt; dwells on past errors or misdeeds"),
            3: _("the illness is a punishment; delusions of guilt"),
            4: _("accusing or threatening voices or visions"),
        },
    ),
    "HAMD6_3": (
        _("Capacity for and interest in work, hobbies and daily activities."),
        {
            0: _("no difficulty"),
            1: _("thoughts of incapacity; tired by activities"),
            2: _("loss of interest, told or seen as listlessness"),
            3: _("less time spent on activities, or less done"),
            4: _("stopped working or doing activities because of the illness"),
        },
    ),
    "HAMD6_4": (
        _("Slowed thought and speech, poor concentration, less movement (seen in the interview)."),
        {
            0: _("normal"),
            1: _("slight slowing"),
            2: _("obvious slowing"),
            3: _("interview difficult"),
            4: _("complete stupor"),
        },
    ),
    "HAMD6_5": (
        _("Inner tension, irritability, worry, apprehension and fears."),
        {
            0: _("none"),
            1: _("tension and irritability, when asked"),
            2: _("worries about minor matters"),
            3: _("apprehension shown in face or speech"),
            4: _("fears expressed without being asked"),
        },
    ),
    "HAMD6_6": (
        _("Heavy limbs, back or head; aches; loss of energy and tiring easily."),
        {0: _("none"), 1: _("one clear symptom"), 2: _("several or marked symptoms")},
    ),
}

ITEMS: tuple[Item, ...] = (
    Item("HAMD6_1", _("Depressed mood"), min=0, max=4, help_text=_("HAM-D17 item 1")),
    Item("HAMD6_2", _("Feelings of guilt"), min=0, max=4, help_text=_("HAM-D17 item 2")),
    Item("HAMD6_3", _("Work and interests"), min=0, max=4, help_text=_("HAM-D17 item 7")),
    Item("HAMD6_4", _("Psychomotor retardation"), min=0, max=4, help_text=_("HAM-D17 item 8")),
    Item("HAMD6_5", _("Psychic anxiety"), min=0, max=4, help_text=_("HAM-D17 item 10")),
    Item(
        "HAMD6_6",
        _("General somatic symptoms (tiredness/pains)"),
        min=0,
        max=2,
        help_text=_("HAM-D17 item 13; rated 0–2"),
    ),
)
ITEMS = with_guidance(ITEMS, GUIDANCE)
CODES = tuple(item.code for item in ITEMS)

INSTRUMENT = Instrument(
    code="HAMD6",
    name=_("Hamilton Depression Rating Scale, 6-item melancholia subscale (Bech HAM-D6)"),
    short_name=_("HAM-D6"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Blinded research assessor; clinical interview."),
    reference_period=_("Per the rater manual (HAM-D convention: the past week)."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "HAMD6_TOTAL",
            _("HAM-D6 total"),
            CODES,
            "sum",
            0,
            22,
            "worse",
            _("Sum of the six items; missing if any item is missing."),
            sum_of(CODES),
        ),
    ),
    missing_rule=_(
        "The total is missing if any of the 6 items is missing; no prorating (each item "
        "carries unique severity information in this unidimensional scale)."
    ),
    notes=(
        _("If a full HAM-D17 was administered, derive HAM-D6 from it (items 1, 2, 7, 8, 10, 13)."),
    ),
)
