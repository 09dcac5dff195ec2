"""What an operator limited to a region (an РУО) may see, in one place.

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
