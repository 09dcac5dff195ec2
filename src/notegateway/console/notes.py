"""A note in the console: what it did and why, and the helpdesk's actions on it: link it
to a pupil (from its suggestions, by a full identifier, or by number), confirmed after
the page states how many absences change; hand it again to a vendor. Errors show next to
their field on the note's own page with the input kept; a success message follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notegateway.console import glossary, sessions
from notegateway.console.render import error_page, number, page, refused_page
from notegateway.console.router import ConsoleSession, checked
from notegateway.console.sessions import Session
from notegateway.core.db import rehearsal
from notegateway.core.deps import Db
from notegateway.core.errors import DomainError, NotFound, Unprocessable
from notegateway.core.wire import MAX_ID
from notegateway.ops import service as ops_service
from notegateway.ops import suggestions as suggestions_service
from notegateway.ops.schemas import NoteWithAudit

router = APIRouter(prefix="/console", include_in_schema=False)
Text = Annotated[str, Form(max_length=500)]


def absences(count: int) -> str:
    """'1 отсъствие', '3 отсъствия'."""
    return f"{count} отсъствие" if count == 1 else f"{count} отсъствия"


def pupil_name(note: NoteWithAudit) -> str:
    """The note's pupil as the registry names them."""
    person = note.person
    if person is None:
        return f"ученик № {note.person_id}" if note.person_id else "никого"
    return f"{person.given_name} {person.family_name} (№ {person.person_id})"


@dataclass(frozen=True, slots=True)
class NoteForms:
    """What the note page's forms show again after a refused action."""

    errors: dict[str, str] | None = None
    values: dict[str, str] | None = None
    looked_up: list[suggestions_service.FoundPerson] | None = None


async def note_page(
    db: asyncpg.Connection,
    session: Session,
    nrn: str,
    status: int = 200,
    forms: NoteForms = NoteForms(),
) -> HTMLResponse:
    region = session.client.region
    try:
        audited = await ops_service.note_with_audit(db, nrn, region)
    except NotFound:
        return error_page(session, 404, f"Няма бележка {nrn}.")
    view = audited.note
    ids = [p.institution_id for p in view.placements]
    ids += [i for d in view.deliveries for i in d.institutions]
    names = await ops_service.institution_names(db, ids)
    offered = []
    if view.person_id is None and region is None:
        offered = await suggestions_service.suggestions(db, nrn, region)
    cancelled = [a for a in view.audit if a.action.startswith("note.cancelled")]
    return page(
        "note.html",
        status,
        session=session,
        current="search",
        note=view,
        days=audited.days,
        names=names,
        suggestions=offered,
        cancel_reason=cancelled[-1].reason if cancelled else None,
        errors=forms.errors or {},
        values=forms.values or {},
        looked_up=forms.looked_up,
    )


@router.get("/notes/{nrn}", response_class=HTMLResponse)
async def note(nrn: str, session: ConsoleSession, db: Db) -> HTMLResponse:
    return await note_page(db, session, nrn[:12])


@router.post("/notes/{nrn}/lookup", response_class=HTMLResponse)
async def lookup(
    nrn: str, session: ConsoleSession, db: Db, csrf: Text = "", identifier: Text = ""
) -> HTMLResponse:
    """The pupil by the full identifier the parent reads out (shown masked only)."""
    checked(session, csrf)
    nrn = nrn[:12]
    wanted = identifier.strip()
    if not wanted:
        errors = {"identifier": "Въведете ЕГН или ЛНЧ."}
        return await note_page(db, session, nrn, 422, NoteForms(errors=errors))
    try:
        found = await suggestions_service.lookup(db, wanted, session.client.region)
    except DomainError as exc:
        return refused_page(session, exc)
    if not found:
        errors = {"identifier": "Няма ученик с такъв ЕГН / ЛНЧ в регистъра."}
        return await note_page(db, session, nrn, 404, NoteForms(errors=errors))
    return await note_page(db, session, nrn, forms=NoteForms(looked_up=found))


def _person_field(text: str) -> tuple[int | None, str | None]:
    """The pupil's number from the form (empty: back to the note's identifier), or why not."""
    if not text.strip():
        return None, None
    wanted = number(text, 1, MAX_ID)
    return wanted, None if wanted is not None else f"Номерът е цяло число от 1 до {MAX_ID}."


@router.post("/notes/{nrn}/match")
async def match(
    nrn: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    person_id: Text = "",
    reason: Text = "",
    confirmed: Text = "",
    was: Text = "",
) -> Response:
    """Link the note: first a page that says what will change, then, confirmed, the link.
    The confirmation names the person the note had when it was shown (`was`): if a
    registry change moved the note meanwhile, the new consequence is shown instead."""
    checked(session, csrf)
    nrn = nrn[:12]
    wanted, problem = _person_field(person_id)
    errors = {"person_id": problem} if problem else {}
    if not reason.strip():
        errors["reason"] = "Посочете причина: тя остава в историята на бележката."
    values = {"person_id": person_id.strip(), "reason": reason.strip()}
    if errors:
        return await note_page(db, session, nrn, 422, NoteForms(errors=errors, values=values))
    region, actor = session.client.region, session.client.name
    try:
        before = (await ops_service.note_with_audit(db, nrn, region)).note
        if wanted is not None and wanted == before.person_id:
            errors = {"person_id": "Бележката вече е свързана с този ученик."}
            return await note_page(db, session, nrn, 422, NoteForms(errors=errors, values=values))
        moved = confirmed == "yes" and was != str(before.person_id or "")
        if confirmed != "yes" or moved:
            async with rehearsal(db):
                rehearsed = await ops_service.link(db, nrn, wanted, reason.strip(), actor, region)
            return _confirm_link(session, nrn, (before, rehearsed.note), values, moved)
        after = (await ops_service.link(db, nrn, wanted, reason.strip(), actor, region)).note
    except Unprocessable as exc:  # no such person
        errors = {"person_id": glossary.error(exc.status_code, exc.detail)}
        return await note_page(db, session, nrn, 422, NoteForms(errors=errors, values=values))
    except DomainError as exc:
        return refused_page(session, exc)
    done = (
        f"Бележката е свързана с {pupil_name(after)}. "
        f"Уважени по нея: {absences(after.excused_absences)}."
        if after.person_id
        else "Бележката отново се свързва по ЕГН / ЛНЧ в нея: засега няма открит ученик."
    )
    await sessions.say(db, session, done)
    return RedirectResponse(f"/console/notes/{nrn}", status_code=303)


def _confirm_link(
    session: Session,
    nrn: str,
    views: tuple[NoteWithAudit, NoteWithAudit],
    values: dict[str, str],
    moved: bool,
) -> HTMLResponse:
    """`views`: the whole note now, and as the rehearsed link left it."""
    before, after = views
    consequences = []
    if moved:
        consequences.append("Междувременно бележката е променена. Ето какво ще стане сега:")
    if after.person_id is not None:
        consequences.append(f"Бележката ще бъде свързана с {pupil_name(after)}.")
        excused = after.excused_absences
        consequences.append(
            f"Ще бъдат уважени {absences(excused)} на ученика."
            if excused
            else "Няма неуважени отсъствия на ученика в дните на бележката: нищо не се уважава."
        )
    else:
        consequences.append("Бележката ще се свързва по ЕГН / ЛНЧ в нея (засега с никого).")
    if before.person_id is not None and before.person_id != after.person_id:
        released = before.excused_absences
        consequences.append(
            f"Уважените досега по нея {absences(released)} на {pupil_name(before)} вече няма "
            "да са уважени по тази бележка."
        )
    return page(
        "confirm.html",
        session=session,
        current="search",
        title=f"Свързване на бележка {nrn}",
        consequences=consequences,
        action=f"/console/notes/{nrn}/match",
        fields={
            "person_id": values["person_id"],
            "reason": values["reason"],
            "was": str(before.person_id or ""),
        },
        reason=values["reason"],
        back=f"/console/notes/{nrn}",
        button="Потвърди свързването",
    )


@router.post("/notes/{nrn}/redeliver")
async def redeliver(
    nrn: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    vendor: Text = "",
    reason: Text = "",
) -> Response:
    """Hand the note again to a vendor (no absence changes here: no confirmation step)."""
    checked(session, csrf)
    nrn = nrn[:12]
    values = {"vendor": vendor.strip(), "redeliver_reason": reason.strip()}
    errors = {} if reason.strip() else {"redeliver_reason": "Посочете причина."}
    if not vendor.strip():
        errors["vendor"] = "Изберете дневник."
    if errors:
        return await note_page(db, session, nrn, 422, NoteForms(errors=errors, values=values))
    try:
        await ops_service.redeliver(
            db, nrn, vendor.strip(), reason.strip(), session.client.name, session.client.region
        )
    except Unprocessable as exc:
        errors = {"vendor": glossary.error(exc.status_code, exc.detail)}
        return await note_page(db, session, nrn, 422, NoteForms(errors=errors, values=values))
    except DomainError as exc:
        return refused_page(session, exc)
    await sessions.say(
        db,
        session,
        f"Бележката ще бъде дадена отново на дневника {vendor.strip()} при следващото му четене.",
    )
    return RedirectResponse(f"/console/notes/{nrn}", status_code=303)
