"""The monthly figures that decide child benefits, as NEISPUO counts them for social
assistance (ASP), and the pupils one lesson or one preschool day from the limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.core.config import Settings
from notegateway.core.errors import NotFound
from notegateway.diary import figures_repository, reports_repository, repository


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
) -> list[asyncpg.Record]:
    """The month's rows, one statement; an institution outside `region` (an operator
    limited to one) is as if it did not exist."""
    if not await repository.institution_exists(db, institution_id, region):
        raise NotFound(f"no institution {institution_id}")
    return await figures_repository.month(db, institution_id, first_day)


def _pupil(r: asyncpg.Record) -> dict[str, Any]:
    return {"personId": r["person_id"], "className": r["class_name"], "section": r["section"]}


async def month_figures(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> dict[str, Any]:
    """Per pupil enrolled there that month, on the days NEISPUO's diary keeps (`dplr` and
    deleted absences count nowhere)."""
    rows = await _month(db, institution_id, first_day, region)
    return {
        "institutionId": institution_id,
        "month": f"{first_day:%Y-%m}",
        "pupils": [
            {
                **_pupil(r),
                **_figure(r, limits),
                "unexcusedLessons": r["lessons"],
                "lateArrivals": r["late"],
                "excusedByNotes": r["by_notes"],
                "unexcusedUnderNotes": r["under_notes"],
            }
            for r in rows
        ],
    }


async def at_risk(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> dict[str, Any]:
    """Who to call while a doctor can still help: the pupils not over the limit but one
    lesson (`unexcusedHours` ≥ limit − 1) or one preschool day (as many unexcused days as
    the limit allows) from it, with the dates of their unexcused absences."""
    rows = await _month(db, institution_id, first_day, region)
    figures = [(r, _figure(r, limits)) for r in rows]
    pupils = [
        {
            **_pupil(r),
            "unexcusedHours": figure["unexcusedHours"],
            "unexcusedDays": figure["unexcusedDays"],
            "unexcusedDates": [d.isoformat() for d in r["unexcused_dates"]],
        }
        for r, figure in figures
        if limits.at_risk(figure["unexcusedHours"], figure["unexcusedDays"])
    ]
    return {"institutionId": institution_id, "month": f"{first_day:%Y-%m}", "pupils": pupils}


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
    (again: replaced); True when first. The figures and how far the change feed had come
    are read in one statement, so a report racing a push records a state that was
    committed, never half of one."""
    rows = await _month(db, institution_id, first_day, None)
    change_seq = rows[0]["change_seq"] if rows else await figures_repository.change_seq(db)
    pupils = [{"personId": r["person_id"], **_figure(r, limits)} for r in rows]
    return await reports_repository.record(db, institution_id, first_day, change_seq, pupils, actor)


def _figure(r: asyncpg.Record, limits: BenefitLimits) -> dict[str, Any]:
    """What decides the benefit, as a report keeps it and corrections compare it."""
    hours = limits.hours(r["lessons"], r["late"])
    return {
        "unexcusedHours": hours,
        "unexcusedDays": r["days"],
        "overBenefitLimit": limits.over(hours, r["days"]),
    }


async def corrections(
    db: asyncpg.Connection,
    institution_id: int,
    first_day: dt.date,
    limits: BenefitLimits,
    region: str | None,
) -> dict[str, Any]:
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
    now = {r["person_id"]: _figure(r, limits) for r in rows}
    nothing = {"unexcusedHours": 0.0, "unexcusedDays": 0, "overBenefitLimit": False}
    changed = {
        person: (reported.pupils.get(person, nothing), now.get(person, nothing))
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
    return {
        "institutionId": institution_id,
        "month": f"{first_day:%Y-%m}",
        "reportedAt": reported.reported_at,
        "pupils": [
            {
                "personId": person,
                "before": before,
                "after": after,
                "crossedLimit": before["overBenefitLimit"] != after["overBenefitLimit"],
                "nrnMedicalNotices": nrns.get(person, []),
            }
            for person, (before, after) in differing.items()
        ],
    }
