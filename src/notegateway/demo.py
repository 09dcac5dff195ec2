"""A small demo data set: two NEISPUO schools, a kindergarten, a centre, a vendor school,
pupils."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg
from stdnum.bg import egn

from notegateway import settle
from notegateway.clients import repository as clients_repository
from notegateway.clients import service as clients_service
from notegateway.core.timeutil import today_in_sofia
from notegateway.diary import service as diary_service
from notegateway.diary.schemas import AbsenceIn, AbsencePatchIn
from notegateway.notices import service as notices_service
from notegateway.notices.validation import judge_notes
from notegateway.registry import service as registry_service
from notegateway.registry.schemas import InstitutionIn
from notegateway.registry.validation import judge_persons

DEMO_CLIENTS = (
    ("demo-nzis", "nzis"),
    ("demo-neispuo", "neispuo"),
    ("demo-operator", "operator"),
    ("demo-vendor", "vendor"),
)


def demo_egn(birth: dt.date, serial: int) -> str:
    month = birth.month + (40 if birth.year >= 2000 else 0)
    body = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{serial:03d}"
    return body + egn.calc_check_digit(body)


async def _token(db: asyncpg.Connection, key: bytes, name: str, role: str) -> str:
    if await clients_repository.find_by_name(db, name) is None:
        return await clients_service.add(db, key, name, role, None)
    return await clients_service.rotate(db, key, name)


async def load_demo(
    db: asyncpg.Connection, key: bytes, base: str = "http://127.0.0.1:8000"
) -> list[str]:
    """Load (or refresh) the demo data; returns lines to print (addresses under `base`),
    tokens rotated on each run."""
    settle.install()
    tokens = {name: await _token(db, key, name, role) for name, role in DEMO_CLIENTS}
    for institution_id, name, town, region, diary in (
        (100001, 'СУ "Васил Левски"', "София", "София-град", "neispuo"),
        (100002, 'ОУ "Христо Ботев"', "Пловдив", "Пловдив", "neispuo"),
        (200001, 'ДГ "Слънце"', "София", "София-град", "neispuo"),
        (300001, 'ПГ "Иван Вазов"', "Варна", "Варна", "demo-vendor"),
        (400001, 'ЦПЛР "Детско творчество"', "София", "София-град", "neispuo"),
    ):
        body = {"name": name, "town": town, "region": region, "diary": diary}
        institution = InstitutionIn.model_validate(body)  # as NEISPUO sends it
        await registry_service.put_institution(db, institution_id, institution, "demo")
    school_year = dt.date(2026, 9, 15)
    Enrollment = tuple[int, str, str | None, dt.date, dt.date | None]
    pupils: list[tuple[int, str, str, str, list[Enrollment]]] = [
        (
            1001,
            demo_egn(dt.date(2014, 3, 15), 123),
            "ИВАН",
            "ТОДОРОВ",
            # A school and a centre for personal development at once.
            [(100001, "5", "А", school_year, None), (400001, "Роботика", None, school_year, None)],
        ),
        (
            1002,
            demo_egn(dt.date(2013, 6, 2), 456),
            "МАРИЯ",
            "ПЕТРОВА",
            [
                (100001, "6", "Б", school_year, dt.date(2026, 11, 18)),
                (100002, "6", "А", dt.date(2026, 11, 19), None),
            ],
        ),
        (
            1003,
            demo_egn(dt.date(2021, 1, 20), 789),
            "ГЕОРГИ",
            "ИВАНОВ",
            [(200001, "Пчелички", None, school_year, None)],
        ),
        (
            1004,
            demo_egn(dt.date(2010, 10, 5), 222),
            "ЕЛЕНА",
            "ДИМИТРОВА",
            [(300001, "9", "В", school_year, None)],
        ),
    ]
    items = [
        {
            "personId": pid,
            "identifierType": 1,
            "identifier": identifier,
            "givenName": given,
            "familyName": family,
            "enrollments": [
                {
                    "institutionId": inst,
                    "className": cls,
                    "section": sec,
                    "fromDate": start.isoformat(),
                    "toDate": end.isoformat() if end else None,
                }
                for inst, cls, sec, start, end in enrollments
            ],
        }
        for pid, identifier, given, family, enrollments in pupils
    ]
    results = await registry_service.put_persons(db, judge_persons(items), "demo")
    bad = [(r.index, r.errors) for r in results if r.outcome in ("invalid", "conflict")]
    if bad:
        raise RuntimeError(f"demo data rejected: {bad}")
    # Unexcused absences of the first pupil on the days the demo note covers (kept once).
    for absence_id, day, lesson in ((9001, 18, 1), (9002, 18, 2), (9003, 19, 3), (9004, 20, 1)):
        await diary_service.record_absence(
            db,
            AbsenceIn.model_validate(
                {
                    "absenceId": absence_id,
                    "personId": 1001,
                    "institutionId": 100001,
                    "date": f"2026-11-{day}",
                    "lesson": lesson,
                    "subject": "Математика",
                    "kind": "unexcused",
                }
            ),
            "demo",
        )
    note = [
        {
            "nrnMedicalNotice": "26328A000001",
            "nrnExamination": "26328A000002",
            "patient": {
                "identifierType": 1,
                "identifier": pupils[0][1],
                "givenName": "ИВАН",
                "familyName": "ТОДОРОВ",
            },
            "practitioner": {"pmi": "2300011922"},
            "medicalNotice": {
                "fromDate": "2026-11-18",
                "toDate": "2026-11-20",
                "authoredOn": "2026-11-20T10:31:00",
            },
        }
    ]
    await _helpdesk_cases(db)
    lines = ["Demo data loaded. Tokens (new on every run; only their hashes are kept):"]
    lines += [f"  {name:14} {tokens[name]}" for name, _ in DEMO_CLIENTS]
    lines += [
        "",
        "Push a note as NZIS:",
        "  curl -s -X POST {base}/api/v1/hisMedicalNotices "
        f"-H 'Authorization: Bearer {tokens['demo-nzis']}' -H 'Content-Type: application/json' "
        f"-d '{json.dumps(note, ensure_ascii=False)}'",
        "See what became of it:",
        "  curl -s {base}/api/v1/hisMedicalNotices/26328A000001 "
        f"-H 'Authorization: Bearer {tokens['demo-nzis']}'",
        "and the pupil's absences in the diary (excused by the note once it is pushed):",
        "  curl -s '{base}/api/v1/diary/absences?personId=1001' "
        f"-H 'Authorization: Bearer {tokens['demo-neispuo']}'",
        "and every change the gateway made to absences, with before and after:",
        "  curl -s '{base}/api/v1/diary/changes?limit=5' "
        f"-H 'Authorization: Bearer {tokens['demo-neispuo']}'",
        "API description: {base}/docs (the contract: {base}/docs/contract, docs/contract.md)",
        "",
        "The operators' console: {base}/console",
        f"  sign in with the demo-operator token: {tokens['demo-operator']}",
        "Stop with Ctrl-C: the embedded PostgreSQL stops with the server.",
    ]
    return [line.replace("{base}", base) for line in lines]


def _note(
    nrn: str, identifier: str, first: str, last: str, names: tuple[str, str] = ("ДЕМО", "")
) -> dict[str, Any]:
    patient = {"identifierType": 1, "identifier": identifier, "givenName": names[0]}
    if names[1]:
        patient["familyName"] = names[1]
    return {
        "nrnMedicalNotice": nrn,
        "nrnExamination": "26328A000002",
        "patient": patient,
        "practitioner": {"pmi": "2300011922"},
        "medicalNotice": {"fromDate": first, "toDate": last, "authoredOn": f"{last}T09:00:00"},
    }


async def _helpdesk_cases(db: asyncpg.Connection) -> None:
    """What makes each console page show something: an illness wave in Sofia (twelve more
    pupils with notes), a note under a mistyped ЕГН (unmatched), an absence left for
    review (a cancelled note, a teacher's override), a rejected push, and a note in the
    vendor's school (its feed lag)."""
    wave = [(1011 + i, demo_egn(dt.date(2014, 1, 5 + i), 300 + i)) for i in range(12)]
    await registry_service.put_persons(
        db,
        judge_persons(
            [
                {
                    "personId": pid,
                    "identifierType": 1,
                    "identifier": egn,
                    "givenName": "ДЕМО",
                    "familyName": "УЧЕНИК",
                    "enrollments": [
                        {
                            "institutionId": 100001,
                            "className": "7",
                            "section": "А",
                            "fromDate": "2026-09-15",
                            "toDate": None,
                        }
                    ],
                }
                for pid, egn in wave
            ]
        ),
        "demo",
    )
    notes = [
        _note(
            f"26328A0001{i:02d}",
            egn,
            f"2026-11-{13 + i % 5}",
            f"2026-11-{13 + i % 5 + 2 + i % 4}",
        )
        for i, (_pid, egn) in enumerate(wave)
    ]
    notes.append(
        # ИВАН ТОДОРОВ's birth date, another serial: the console suggests pupil 1001.
        _note(
            "26328A000200",
            demo_egn(dt.date(2014, 3, 15), 132),
            "2026-11-18",
            "2026-11-19",
            ("ИВАН", "ТОДОРОВ"),
        )
    )
    notes.append(
        _note("26328A000300", demo_egn(dt.date(2010, 10, 5), 222), "2026-11-18", "2026-11-20")
    )
    notes.append(
        _note("26328A000400", demo_egn(dt.date(2013, 6, 2), 456), "2026-11-17", "2026-11-17")
    )
    notes.append({"nrnMedicalNotice": "BAD-DEMO", "patient": {"identifier": "0000000000"}})
    await diary_service.record_absence(
        db,
        AbsenceIn.model_validate(
            {
                "absenceId": 9005,
                "personId": 1002,
                "institutionId": 100001,
                "date": "2026-11-17",
                "lesson": 2,
                "subject": "История",
                "kind": "unexcused",
            }
        ),
        "demo",
    )
    judged = judge_notes(notes, [], today_in_sofia())  # as NZIS pushes them
    await notices_service.push_notes(db, judged, "demo-nzis")
    await diary_service.change_absence(
        db, 9005, AbsencePatchIn.model_validate({"comment": "потвърдено от класния"}), "demo"
    )
    # A teacher turns back to unexcused an absence a note covers: listed for review.
    await diary_service.record_absence(
        db,
        AbsenceIn.model_validate(
            {
                "absenceId": 9006,
                "personId": 1011,
                "institutionId": 100001,
                "date": "2026-11-13",
                "lesson": 3,
                "subject": "Физическо възпитание",
                "kind": "unexcused",
            }
        ),
        "demo",
    )
    await diary_service.change_absence(
        db, 9006, AbsencePatchIn.model_validate({"kind": "unexcused"}), "demo"
    )
    await notices_service.cancel(db, "26328A000400", "издадена по грешка", "demo-nzis")
