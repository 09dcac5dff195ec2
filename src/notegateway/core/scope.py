"""What each limited audience may see, in one place: a vendor (its diaries' days) and an
operator limited to a region (an РУО). Every query for either starts from a function here.

A vendor sees a note only through the days its diaries keep: every vendor query starts
from `vendor_placements` (the placements cut to the institution-days whose diary is this
vendor) or from rows keyed by the vendor's id; a reissue's other note is named to it only
when it was issued that note too (`told_to_vendor`).

Such an operator sees only notes placed in an institution of its region (any other: 404,
as if it did not exist), the review items of absences in its region's institutions, and
its region's figures (the daily counts, and the monthly figures of its region's
institutions: any other 404); it sees neither rejections nor unmatched notes, and may not
link a note by hand (403): both show pupils before anyone knows where they study. Outside
the operators' API and the monthly figures it may call nothing (the role table,
clients/auth.py). Every query a region limits takes its condition from here; `region` None
means the whole country.
"""

from __future__ import annotations

from notegateway.core.errors import Forbidden
from notegateway.core.placement_sql import by_diary


def vendor_placements(vendor_param: str) -> str:
    """SQL, a CTE named vendor_placements: the placements on days the vendor's diary keeps."""
    return f"""
vendor_placements AS (
    SELECT cut.notice_id, cut.institution_id, cut.class_name, cut.section, cut.from_date,
           cut.to_date
    FROM ({by_diary("placements")}) AS cut
    WHERE cut.diary_client_id = {vendor_param}
)
"""


def told_to_vendor(note: str, vendor_param: str) -> str:
    """SQL: the vendor was issued the note `note` (an alias of medical_notices)."""
    return f"""EXISTS (SELECT 1 FROM vendor_note_state AS told
                   WHERE told.vendor_id = {vendor_param} AND told.notice_id = {note}.id)"""


def note_in_region(note: str, region_param: str) -> str:
    """SQL: the note `note` (an alias of medical_notices) is placed in the region."""
    return f"""({region_param}::text IS NULL OR EXISTS (
        SELECT 1 FROM placements AS scope_p
        JOIN institutions AS scope_i ON scope_i.id = scope_p.institution_id
        WHERE scope_p.notice_id = {note}.id AND scope_i.region = {region_param}))"""


def institution_in_region(institution_id: str, region_param: str) -> str:
    """SQL: the institution with id `institution_id` is in the region."""
    return f"""({region_param}::text IS NULL OR EXISTS (
        SELECT 1 FROM institutions AS scope_i
        WHERE scope_i.id = {institution_id} AND scope_i.region = {region_param}))"""


def refuse_regional(region: str | None, what: str) -> None:
    """403 for an operator limited to a region: `what` is for the whole country's."""
    if region is not None:
        raise Forbidden(f"{what} are not shown to an operator limited to a region")
