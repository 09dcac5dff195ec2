"""The monthly figures that decide child benefits, as NEISPUO counts them for social
assistance (ASP), and the pupils one lesson or one preschool day from the limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.config import Settings
from notegateway.core.errors import NotFound
from notegateway.diary import figures_repository, reports_repository, repository
from notegateway.diary.figures_repository import PupilCounts
from notegateway.diary.reports_repository import NO_FIGURE, Figure
from notegateway.diary.schemas import (
    AtRiskMonth,
    MonthCorrections,
    MonthFigures,
    PupilAtRisk,
    PupilCorrection,
    PupilMonth,
    ReportedFigures,
)


@dataclass(frozen=True, slots=True)
class BenefitLimits:
    """What stops a family's child benefit in a month: at least `lessons` unexcused hours
    (unexcused lessons, each late arrival weighing `late_weight` of one), or more than
    `days` unexcused preschool days."""

    lessons: int
    days: int
    late_weight: float

    @classmethod
    def of(cls, settings: Settings) -> BenefitLimits:
        """NOTEGATEWAY_LIMIT_LESSONS, NOTEGATEWAY_LIMIT_DAYS, NOTEGATEWAY_LATE_WEIGHT."""
        return cls(settings.limit_lessons, settings.limit_days, settings.late_weight)

    def hours(self, lessons: int, late: int) -> float:
        return float(lessons + self.late_weight * late)

    def over(self, hours: float, days: int) -> bool:
        return hours >= self.lessons or days > self.days

    def at_risk(self, hours: float, days: int) -> bool:
        """Not over, but one lesson or one preschool day from it."""
        near = hours >= self.lessons - 1 or (days == self.days and days > 0)
        return near and not self.over(hours, days)


async def _month(
    db: asyncpg.Connection, institution_id: int, first_day: dt.date, region: str | None
) -> list[PupilCounts]:
    """The month's rows, one statement; an institution outside `region` (an operator
    limited to one) is as if it did not exist."""
    if not await repository.institution_exists(db, institution_id, region):
        raise NotFound(f"no institution {institution_id}")
    return await figures_repository.month(db, institution_id, first_day)


async def month_figures(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> MonthFigures:
    """Per pupil enrolled there that month, on the days NEISPUO's diary keeps (`dplr` and
    deleted absences count nowhere)."""
    rows = await _month(db, institution_id, first_day, region)
    pupils = []
    for r in rows:
        figure = _figure(r, limits)
        pupils.append(
            PupilMonth(
                person_id=r.person_id,
                class_name=r.class_name,
                section=r.section,
                unexcused_lessons=r.lessons,
                unexcused_days=figure.unexcused_days,
                late_arrivals=r.late,
                unexcused_hours=figure.unexcused_hours,
                excused_by_notes=r.by_notes,
                unexcused_under_notes=r.under_notes,
                over_benefit_limit=figure.over_benefit_limit,
            )
        )
    return MonthFigures(institution_id=institution_id, month=f"{first_day:%Y-%m}", pupils=pupils)


async def at_risk(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> AtRiskMonth:
    """Who to call while a doctor can still help: the pupils not over the limit but one
    lesson (`unexcusedHours` ≥ limit − 1) or one preschool day (as many unexcused days as
    the limit allows) from it, with the dates of their unexcused absences."""
    rows = await _month(db, institution_id, first_day, region)
    figures = [(r, _figure(r, limits)) for r in rows]
    pupils = [
        PupilAtRisk(
            person_id=r.person_id,
            class_name=r.class_name,
            section=r.section,
            unexcused_hours=figure.unexcused_hours,
            unexcused_days=figure.unexcused_days,
            unexcused_dates=r.unexcused_dates,
        )
        for r, figure in figures
        if limits.at_risk(figure.unexcused_hours, figure.unexcused_days)
    ]
    return AtRiskMonth(institution_id=institution_id, month=f"{first_day:%Y-%m}", pupils=pupils)


async def reported_months(
    db: asyncpg.Connection, region: str | None, limit: int = 50, offset: int = 0
) -> list[reports_repository.ReportedMonth]:
    """The months reported most lately, for the console's list of corrections."""
    return await reports_repository.latest(db, region, limit, offset)


async def report_month(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    actor: str,
) -> bool:
    """Record the month's figures as they are now as the ones sent to social assistance
    (again: replaced); True when first. The figures are read in one statement, so a
    report racing a push records a state that was committed, never half of one; how far
    the change feed had come is read first: the figures hold every change up to it (and
    perhaps a few after it, which corrections then name as later)."""
    change_seq = await figures_repository.change_seq(db)
    rows = await _month(db, institution_id, first_day, None)
    pupils = {r.person_id: _figure(r, limits) for r in rows}
    return await reports_repository.record(db, institution_id, first_day, change_seq, pupils, actor)


def _figure(r: PupilCounts, limits: BenefitLimits) -> Figure:
    """What decides the benefit, as a report keeps it and corrections compare it."""
    hours = limits.hours(r.lessons, r.late)
    return Figure(hours, r.days, limits.over(hours, r.days))


async def corrections(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> MonthCorrections:
    """Every pupil whose figures now differ from those reported, before and after, whether
    the difference crosses the benefit limit, and the notes whose changes made it: how a
    late note reaches the family's benefit (the director answers the sanction list with
    the corrected figures). 404 while the month is not reported."""
    rows = await _month(db, institution_id, first_day, region)
    reported = await reports_repository.report(db, institution_id, first_day)
    if reported is None:
        raise NotFound(
            f"the month {first_day:%Y-%m} of institution {institution_id} is not reported"
        )
    now = {r.person_id: _figure(r, limits) for r in rows}
    changed = {
        person: (reported.pupils.get(person, NO_FIGURE), now.get(person, NO_FIGURE))
        for person in sorted(set(now) | set(reported.pupils))
    }
    differing = {p: (b, a) for p, (b, a) in changed.items() if b != a}
    nrns = (
        await reports_repository.notes_changed_since(
            db, institution_id, first_day, reported.change_seq
        )
        if differing
        else {}
    )
    return MonthCorrections(
        institution_id=institution_id,
        month=f"{first_day:%Y-%m}",
        reported_at=reported.reported_at,
        pupils=[
            PupilCorrection(
                person_id=person,
                before=_reported(before),
                after=_reported(after),
                crossed_limit=before.over_benefit_limit != after.over_benefit_limit,
                nrn_medical_notices=nrns.get(person, []),
            )
            for person, (before, after) in differing.items()
        ],
    )


def _reported(figure: Figure) -> ReportedFigures:
    return ReportedFigures(
        unexcused_hours=figure.unexcused_hours,
        unexcused_days=figure.unexcused_days,
        over_benefit_limit=figure.over_benefit_limit,
    )
