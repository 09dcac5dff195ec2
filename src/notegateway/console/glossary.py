"""Every word the console shows for a code: one place, in Bulgarian a helpdesk operator
would use, so that no English string reaches a page.

Codes come from the gateway's own enums (audit actions, review reasons, outcomes) and from
the messages of its validators and domain errors. A code this file does not know is shown
as `UNKNOWN`, never as itself; tests/console/test_bulgarian.py fails when an enum gains a
member this file lacks, and scans every page's text for Latin words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

UNKNOWN = "непознато"

STATUS = {"active": "активна", "cancelled": "анулирана"}
MATCH = {"matched": "открит", "unmatched": "неоткрит"}

# Audit actions (diary/excusal.py: Action) and the registry's.
ACTIONS = {
    "absence.excused": "отсъствието е уважено по бележката",
    "absence.reattributed": "отсъствието е поето от друга бележка",
    "absence.reverted": "отсъствието е върнато като неуважено",
    "absence.changed_by_person": "отсъствието е променено от учител",
    "absence.recorded": "отсъствието е въведено в дневника",
    "absence.review": "отсъствието е изпратено за преглед",
    "absence.review_resolved": "прегледът отпада: бележката пак покрива отсъствието",
    "absence.review_closed": "отсъствието е прегледано от оператор",
    "absence.deleted": "отсъствието е изтрито от дневника",
    "note.received": "бележката е получена от НЗИС",
    "note.cancelled": "бележката е анулирана от НЗИС",
    "note.cancelled_before_arrival": "бележката е анулирана, преди да пристигне",
    "note.matched": "бележката е свързана с ученик",
    "note.unmatched": "бележката е без открит ученик",
    "note.redelivered": "бележката е изпратена отново до дневник",
    "institution.diary_changed": "сменен е дневникът на институцията",
}

# Review reasons (diary/excusal.py: Why).
REVIEW_WHY = {
    "noteCancelled": "бележката е анулирана, а отсъствието е било променено от учител",
    "noteMoved": (
        "бележката вече не покрива този ден в тази институция, а отсъствието е било "
        "променено от учител"
    ),
    "locked": (
        "дневникът е приключен за този ден: отсъствието остава уважено, въпреки че "
        "бележката вече не го покрива"
    ),
    "unexcusedUnderNote": "учител е направил неуважено отсъствие, което бележката покрива",
}

# Suggestions for an unmatched note (ops/suggestions.py: Why).
SUGGESTION_WHY = {
    "identifierDigit": "ЕГН се различава с една цифра",
    "identifierSwap": "две съседни цифри на ЕГН са разменени",
    "birthDate": "същите имена и същата дата на раждане",
}

# What a vendor's diary answered (the feed's ack).
ACK_OUTCOMES = {
    "excused": "уважени в дневника",
    "pendingTeacher": "чака решение на учител",
    "rejected": "отказана от дневника",
}

KINDS = {
    "unexcused": "неуважено",
    "excused": "уважено",
    "late": "закъснение",
    "dplr": "ДПЛР (само за сведение)",
}

# What became of a covered day, as the parent view says (diary/parents_service.py).
DAY_OUTCOMES = {
    "excused": "уважено",
    "nothingRecorded": "няма записано отсъствие",
    "keptBySchool": "учител го е оставил неуважено",
    "locked": "дневникът е приключен за този ден",
    "atVendor": "в електронен дневник на фирма",
    "cancelled": "бележката е анулирана",
    "notEnrolled": "не е записан в училище този ден",
}

RESOLUTIONS = {"keep": "остава както е", "unexcuse": "става неуважено"}
REJECTION_OUTCOMES = {"invalid": "невалидна", "conflict": "различна от вече получената"}

# The fields of a pushed note, as a rejection's error names them.
FIELDS = {
    "": "бележката",
    "nrnMedicalNotice": "НРН на бележката",
    "nrnExamination": "НРН на прегледа",
    "patient": "пациент",
    "patient.identifierType": "вид идентификатор",
    "patient.identifier": "ЕГН / ЛНЧ",
    "patient.givenName": "име",
    "patient.familyName": "фамилия",
    "practitioner": "лекар",
    "practitioner.pmi": "УИН на лекаря",
    "medicalNotice": "период",
    "medicalNotice.fromDate": "начална дата",
    "medicalNotice.toDate": "крайна дата",
    "medicalNotice.authoredOn": "дата на издаване",
    "personId": "номер на ученика",
    "vendor": "дневник",
    "reason": "причина",
}

# Validators' messages (pydantic's and the gateway's), first match wins; \1 is kept.
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^Field required$", "липсва"),
        (
            r"^not a valid ЕГН",
            "невалидно ЕГН (10 цифри, истинска дата на раждане и контролна цифра)",
        ),
        (r"^not a valid ЛНЧ", "невалиден ЛНЧ (10 цифри с контролна цифра)"),
        (r"^must be 1 to 255 characters$", "трябва да е от 1 до 255 знака"),
        (r"^must not be before fromDate$", "не може да е преди началната дата"),
        (r"^must not be before (\d{4}-\d\d-\d\d)$", r"не може да е преди \1"),
        (r"^must not be after tomorrow$", "не може да е след утрешния ден"),
        (r"^the period is longer than (\d+) days$", r"периодът е по-дълъг от \1 дни"),
        (
            r"^must be exactly 12 characters",
            "трябва да е точно 12 знака: цифри и главни латински букви",
        ),
        (r"must be a (real )?date", "трябва да е дата (ГГГГ-ММ-ДД)"),
        (r"^Input should be a valid string", "трябва да е текст"),
        (r"^Input should be a valid integer", "трябва да е цяло число"),
        (r"^must be a number$", "трябва да е число"),
        (r"^Input should be a valid (dictionary|object)", "трябва да е обект"),
        (r"^Input should be greater than or equal to (\d+)", r"трябва да е поне \1"),
        (r"^Input should be less than or equal to (\d+)", r"трябва да е най-много \1"),
        (r"^String should have at least (\d+) characters?", r"трябва да е поне \1 знака"),
        (r"^String should have at most (\d+) characters?", r"трябва да е най-много \1 знака"),
        (r"^Extra inputs are not permitted", "непознато поле"),
        (r"^property given twice", "полето е дадено два пъти"),
        (r"NUL", "съдържа недопустим знак"),
        (r"^a note must be a JSON object$", "бележката трябва да е обект"),
        (r"^nested too deeply$", "твърде дълбоко вложени данни"),
        (r"array of 1 to (\d+) notes", r"пратката трябва да е списък от 1 до \1 бележки"),
        (r"not JSON|JSON", "пратката не е валиден JSON"),
        (r"larger than|too large", "пратката е твърде голяма"),
        (r"^no such person$", "няма такъв ученик в регистъра"),
        (r"^no such vendor$", "няма такъв дневник"),
        (r"^no such institution$", "няма такава институция"),
    )
)

# Domain errors an action can meet, as the gateway words them (core/errors.py).
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^no medical notice", "Няма такава бележка."),
        (r"^no such person", "Няма ученик с този номер в регистъра."),
        (r"^no such vendor", "Няма такъв дневник."),
        (
            r"covers no day that this vendor",
            "Бележката не покрива дни в този дневник (или е анулирана).",
        ),
        (r"is not listed for review", "Отсъствието вече не е за преглед."),
        (r"^no absence", "Няма такова отсъствие."),
        (r"person changed meanwhile", "Междувременно бележката е променена. Вижте я отново."),
        (
            r"are not shown to an operator limited to a region",
            "Това не е достъпно за оператор на регион.",
        ),
        (r"^no institution", "Няма такава институция."),
        (r"is not reported$", "Месецът още не е отчетен."),
        (r"^no person", "Няма такъв ученик в регистъра."),
    )
)

_BY_STATUS = {
    400: "Заявката е невалидна.",
    403: "Нямате достъп до това.",
    404: "Няма такава страница или запис.",
    409: "Данните се разминават с текущите. Опитайте отново.",
    422: "Данните не са приети.",
    429: "Твърде много заявки. Опитайте след малко.",
    503: "Услугата временно не отговаря. Опитайте след малко.",
}


def term(table: Mapping[str, str], code: object) -> str:
    """The Bulgarian word for `code` in `table`; never the code itself."""
    return table.get(str(code), UNKNOWN) if code is not None else "—"


def _first(rules: tuple[tuple[re.Pattern[str], str], ...], text: str) -> str | None:
    for pattern, replacement in rules:
        found = pattern.search(text)
        if found:
            return found.expand(replacement)
    return None


def message(text: str) -> str:
    """A validator's message in Bulgarian."""
    return _first(_MESSAGES, text) or "невалидна стойност"


def field(loc: list[object]) -> str:
    """The field a rejection's error names, in Bulgarian (list indexes dropped)."""
    path = ".".join(str(part) for part in loc if not isinstance(part, int))
    return FIELDS.get(path, "друго поле")


def error(status: int, detail: str) -> str:
    """A domain error's message in Bulgarian: its own, else its status's."""
    return _first(_ERRORS, detail) or _BY_STATUS.get(
        status, "Действието не може да бъде извършено."
    )
