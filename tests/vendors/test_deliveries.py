"""Per vendor, when it was first served a note (by `next` or by its feed), when it
acknowledged it, and its last ack: what the helpdesk sees in the whole note."""

from __future__ import annotations

import datetime as dt

from tests.factories import Api, note
from tests.vendors.conftest import ACME_SCHOOL, BETA_SCHOOL, MOVER, PUPIL, Vendor


async def test_first_served_by_next_or_the_feed_and_kept_first(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000003", MOVER))  # placed at acme's and at beta's school
    before = (await api.whole_note("25317A000003"))["deliveries"]
    assert [(d["vendor"], d["firstServedAt"]) for d in before] == [("acme", None), ("beta", None)]
    assert [d["institutions"] for d in before] == [[ACME_SCHOOL], [BETA_SCHOOL]]

    assert [n["medicalNoticeId"] for n in (await acme.get("/next/100")).json()["medicalNotices"]]
    [event] = (await beta.feed())["events"]
    served = {d["vendor"]: d for d in (await api.whole_note("25317A000003"))["deliveries"]}
    acme_first = dt.datetime.fromisoformat(served["acme"]["firstServedAt"])
    assert served["beta"]["firstServedAt"] is not None

    await acme.get("/next/100")  # served again: the first time is kept
    await acme.post("/acknowledge", [1])
    acked = await beta.post(
        f"/events/{event['cursor']}/ack", {"outcome": "excused", "excusedAbsences": 0}
    )
    assert acked.status_code in (200, 204), acked.text
    later = {d["vendor"]: d for d in (await api.whole_note("25317A000003"))["deliveries"]}
    assert dt.datetime.fromisoformat(later["acme"]["firstServedAt"]) == acme_first
    assert later["acme"]["acknowledgedAt"] is not None
    assert later["beta"]["ack"] == "excused"


async def test_only_the_vendors_a_note_reaches_are_listed(api: Api, schools: None) -> None:
    await api.push(note("25317A000001", PUPIL))  # only at acme's school
    assert [d["vendor"] for d in (await api.whole_note("25317A000001"))["deliveries"]] == ["acme"]
