"""PSP, Personal and Social Performance scale (SPEC §2). The rater scores four domains, the
EDC derives the 10-point interval the domain profile allows (§2.1), and the rater enters the
total inside it. A total outside the interval needs a reason and opens a query; it is never
silently recomputed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Action,
    Answers,
    CheckContext,
    Finding,
    Instrument,
    Item,
    Mode,
    Number,
    Score,
    entered,
    levels,
    with_guidance,
)
from trial.roles import Role

DOMAINS = ("PSP_A", "PSP_B", "PSP_C", "PSP_D")
LEVELS = levels(
    [
        (1, _("absent")),
        (2, _("mild")),
        (3, _("manifest")),
        (4, _("marked")),
        (5, _("severe")),
        (6, _("very severe")),
    ]
)
YES_NO = levels([(0, _("no")), (1, _("yes"))])

# What each level means (SPEC §2, paraphrased); domain (d) has its own content.
LEVELS_A_C = {
    1: _("absent"),
    2: _("mild: known only to someone who knows the person very well"),
    3: _("manifest: noticeable to anyone, without substantial interference"),
    4: _("marked: interferes heavily; still manages some of it without help"),
    5: _("severe: cannot do it without professional help, or it leads to harm"),
    6: _("very severe: survival is endangered"),
}
GUIDANCE = {
    "PSP_A": (
        _("Work, study, housework, voluntary work and other useful activities (past month)."),
        LEVELS_A_C,
    ),
    "PSP_B": (
        _("Relationships with partner, family, friends and others (past month)."),
        LEVELS_A_C,
    ),
    "PSP_C": (
        _("Personal hygiene, care of appearance and clothing (past month)."),
        LEVELS_A_C,
    ),
    "PSP_D": (
        _(
            "Rudeness, shouting, breaking things, threats and violence (past month). A serious "
            "injury is one that needs an emergency-room visit."
        ),
        {
            1: _("absent"),
            2: _("mild: e.g. rudeness, occasional shouting"),
            3: _("manifest: e.g. shouting at or insulting others in public"),
            4: _("marked: e.g. threats, or damage to things"),
            5: _("severe: acts of violence, without serious injury likely"),
            6: _("very severe: frequent acts likely to cause serious injury"),
        },
    ),
    "PSP_TOTAL": (
        _(
            "Rate the four domains, take the 10-point interval they allow, then choose the "
            "score inside it by the other areas: physical and mental health care, housing, "
            "household and day-centre tasks, intimate relations, child care, social network, "
            "social rules, interests, money, transport and phone, coping with crises."
        ),
        {},
    ),
}


def decile(a: int, b: int, c: int, d: int) -> int:
    """Lower bound of the interval the domain ratings allow (SPEC §2.1): evaluated top-down,
    the first match wins, which gives the worst interval any criterion supports."""
    abc = (a, b, c)
    n5, n4, mx = abc.count(5), abc.count(4), max(abc)
    if 6 in abc:
        return 1
    if (a == b == c == d == 5) or d == 6:
        return 11
    if n5 >= 2 or d == 5:
        return 21
    if (n5 == 1 and n4 >= 1) or d == 4:
        return 31
    if n4 >= 2 or n5 == 1:
        return 41
    if n4 == 1 or d == 3:
        return 51
    if mx == 3 or d == 2:
        return 61
    if mx == 2:
        return 71
    return 81


def domain_decile(values: Mapping[str, Any]) -> int | None:
    if any(values.get(code) is None for code in DOMAINS):
        return None
    a, b, c, d = (int(values[code]) for code in DOMAINS)
    return decile(a, b, c, d)


def interval(values: Mapping[str, Any]) -> tuple[int, int] | None:
    """The allowed (low, high) for PSP_TOTAL, refined by the follow-up question when it is
    answered: 16–20 / 11–15 by prompt response, 1–5 / 6–10 by survival risk."""
    low = domain_decile(values)
    if low is None:
        return None
    if low == 81:
        return 81, 100
    if low == 11 and values.get("PSP_D9_PROMPT") is not None:
        return (16, 20) if values["PSP_D9_PROMPT"] == 1 else (11, 15)
    if low == 1 and values.get("PSP_D10_SURVIVAL") is not None:
        return (1, 5) if values["PSP_D10_SURVIVAL"] == 1 else (6, 10)
    return low, low + 9


def _relevant_for(low: int) -> Any:
    def relevant(values: Mapping[str, Any]) -> bool | None:
        found = domain_decile(values)
        return None if found is None else found == low

    return relevant


def _decile_score(answers: Answers) -> Number | None:
    return domain_decile(answers.values)


def check_interval(answers: Answers, context: CheckContext) -> Iterable[Finding]:
    total = answers.values.get("PSP_TOTAL")
    if total is None:
        return
    allowed = interval(answers.values)
    if allowed is not None:
        low, high = allowed
        if not low <= total <= high:
            reason = context.justified("PSP_TOTAL")
            message = str(
                _(
                    "PSP_TOTAL %(total)s is outside the interval %(low)s–%(high)s that the "
                    "domain ratings allow."
                )
            ) % {"total": total, "low": low, "high": high}
            if reason:
                message += " " + str(_("Rater's reason: %s")) % reason
            else:
                message += " " + str(_("Give a reason for the total, or correct it."))
            yield Finding("PSP_TOTAL", "psp_interval", message, Action.JUSTIFY)
        return
    without = [code for code in DOMAINS if code in answers.missing]
    if without:
        yield Finding(
            "PSP_TOTAL",
            "psp_domain_missing",
            str(
                _(
                    "PSP_TOTAL is given while %(domains)s is missing: the interval cannot be "
                    "checked. Confirm the total."
                )
            )
            % {"domains": ", ".join(without)},
            Action.QUERY,
        )


INSTRUMENT = Instrument(
    code="PSP",
    name=_("Personal and Social Performance scale (Morosini et al. 2000)"),
    short_name=_("PSP"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Blinded research assessor; interview plus all available information."),
    reference_period=_("The past month."),
    timepoints=ALL_TIMEPOINTS,
    items=with_guidance(
        (
            Item(
                "PSP_A",
                _("Socially useful activities incl. work and study"),
                min=1,
                max=6,
                options=LEVELS,
                group=_("Domains"),
            ),
            Item(
                "PSP_B",
                _("Personal and social relationships"),
                min=1,
                max=6,
                options=LEVELS,
                group=_("Domains"),
            ),
            Item("PSP_C", _("Self-care"), min=1, max=6, options=LEVELS, group=_("Domains")),
            Item(
                "PSP_D",
                _("Disturbing and aggressive behaviour"),
                min=1,
                max=6,
                options=LEVELS,
                group=_("Domains"),
                help_text=_(
                    "If the behaviour was not frequent (not more than once in the period and not "
                    "likely to recur within 6 months) the rater may lower the level by one step."
                ),
            ),
            Item(
                "PSP_D9_PROMPT",
                _("Reacts to external prompts (interval 11–20 only)"),
                min=0,
                max=1,
                options=YES_NO,
                group=_("Total"),
                relevant=_relevant_for(11),
                relevance_text=_("Asked only when the domain ratings give the interval 11–20."),
                help_text=_("Yes: 16–20; no: 11–15."),
            ),
            Item(
                "PSP_D10_SURVIVAL",
                _("Survival risk present (interval 1–10 only)"),
                min=0,
                max=1,
                options=YES_NO,
                group=_("Total"),
                relevant=_relevant_for(1),
                relevance_text=_("Asked only when the domain ratings give the interval 1–10."),
                help_text=_("Yes: 1–5; no: 6–10."),
            ),
            Item(
                "PSP_TOTAL",
                _("PSP total (rater's score within the interval)"),
                min=1,
                max=100,
                group=_("Total"),
                help_text=_(
                    "Choose the score inside the interval the domains allow, adjusting for the "
                    "other areas of functioning. A score outside it needs a reason."
                ),
            ),
        ),
        GUIDANCE,
    ),
    scores=(
        Score(
            "PSP_DECILE",
            _("Interval allowed by the domain ratings (lower bound; 81 means 81–100)"),
            DOMAINS,
            "table",
            1,
            81,
            "better",
            _(
                "n5/n4 = number of a–c rated severe/marked, mx = max(a,b,c); first match wins: "
                "1 if any of a–c = 6; 11 if a=b=c=d=5 or d=6; 21 if n5≥2 or d=5; 31 if (n5=1 "
                "and n4≥1) or d=4; 41 if n4≥2 or n5=1; 51 if n4=1 or d=3; 61 if mx=3 or d=2; "
                "71 if mx=2; 81 if all four are absent. Missing if any domain is missing."
            ),
            _decile_score,
            options=levels(
                [
                    (1, "1–10"),
                    (11, "11–20"),
                    (21, "21–30"),
                    (31, "31–40"),
                    (41, "41–50"),
                    (51, "51–60"),
                    (61, "61–70"),
                    (71, "71–80"),
                    (81, "81–100"),
                ]
            ),
        ),
        Score(
            "PSP_TOTAL",
            _("PSP total (clinician-adjusted within the derived interval)"),
            (*DOMAINS, "PSP_TOTAL"),
            "entered",
            1,
            100,
            "better",
            _(
                "The rater's total. Checked against the derived interval; an out-of-interval "
                "total needs a reason and opens a query. Missing when PSP_TOTAL is missing."
            ),
            entered("PSP_TOTAL"),
        ),
    ),
    missing_rule=_(
        "No imputation. The total is a clinical judgement: a missing PSP_TOTAL means a missing "
        "score. If a domain is missing the interval cannot be checked and the total is accepted "
        "with an automatic query. No prorating."
    ),
    notes=(
        _("Domains coded 1–6 (absent … very severe); some implementations code 0–5."),
        _(
            "The 11–20 band follows the readable source (severe in all of a–d); verify against "
            "the licensed form."
        ),
    ),
    checks=(check_interval,),
)
