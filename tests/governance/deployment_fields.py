"""The fields issue 15 requires of every deployment, shared by the fixtures that create them."""

from __future__ import annotations

# What issue 15 requires of every deployment. Most tests plan a start an hour ahead, so they use the audited
# short-notice override (tests of the notice rule itself pass ``short_notice_reason=None``).
ASSESSMENTS: dict[str, str] = {
    "phase": "trial",
    "dpia_ref": "DPIA-2030-014",
    "eia_ref": "https://example.police.uk/eia/2030-014",
    "policy_ref": "LFR appropriate policy document v3",
    "intelligence_case": "Twelve wanted offenders seen near the High Street in the last month",
    "data_controller": "Chief Constable of Example Police",
    "public_contact": "lfr@example.police.uk",
}
SHORT_NOTICE = "test fixture: the window starts within the notice period"
