"""Which roles each action allows: one table, read by the API's endpoints, the pages, the command line
(``openlfr login``) and the tests."""

from __future__ import annotations

from openlfr.store.auth_models import Role

A, AO, OP, EO, RV, AU, DP = (
    Role.ADMIN,
    Role.AUTHORISING_OFFICER,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.REVIEWER,
    Role.AUDITOR,
    Role.DATA_PROTECTION,
)

# Seeing that deployments exist and their status (no biometric data). The reviewer needs it to find the
# watchlists waiting for approval.
VIEW_DEPLOYMENTS = (A, AO, OP, EO, RV, AU, DP)
PLAN_DEPLOYMENT = (AO, OP)
OPEN_DEPLOYMENT = (AO,)
CLOSE_DEPLOYMENT = (AO, OP)
# Starting a deployment's cameras (`openlfr run --deployment`): the people on scene who watch the alerts.
RUN_LIVE = (AO, OP)
RECORD_SIGNAGE = (AO, OP)
# Watchlist size, categories and the under-18 count; never the entries' images.
VIEW_WATCHLIST_SUMMARY = (AO, OP, AU)
ENROL_WATCHLIST = (AO, OP)
# The reviewer's job: a second person checks each entry (necessity, category, source, legal basis, image
# quality) before it is searched; never the person who enrolled it (checked by governance).
APPROVE_WATCHLIST = (AO, RV)
# The entries themselves (names, reasons, quality report), for those who enrol or approve them.
VIEW_WATCHLIST_ENTRIES = (AO, OP, RV)
VIEW_RECORD = (A, AO, OP, AU)
SUPERVISE = (AO, OP)
# Alert facts (score, camera, time, category, decisions), without images.
VIEW_ALERTS = (AO, OP, EO, AU)
# Biometric images: only the people who must compare faces to decide. Each view is audited.
VIEW_ALERT_IMAGES = (OP, EO)
# Writing an alert's image to a file (`openlfr alert image`): the same two roles, audited like a view.
EXPORT_ALERT_IMAGES = VIEW_ALERT_IMAGES
OPERATOR_REVIEW = (OP,)
ENGAGEMENT_OUTCOME = (EO,)
DISPOSAL = (EO,)
# Amending a decision recorded in error (rule 7): the supervising officer, with a reason; audited and published.
AMEND_DECISION = (AO,)
EVIDENCE_HOLD = (AO,)
RECEIVE_ALERTS = (OP, EO, AO)
VIEW_AUDIT = (A, AU, AO)
VERIFY_AUDIT = (A, AU)
MANAGE_USERS = (A,)
MANAGE_KEYS = (A,)
# Running the retention purge by hand (`openlfr purge`, `openlfr retro purge`); the server's scheduled purge
# acts as the service identity (`retention.service_identity`).
RUN_PURGE = (A, AO)

# Retrospective (RFR) and operator-initiated (OIFR) recognition against the gallery (issue 13).
# Facts (case, candidates' record ids, scores, decisions): the people who run, review and oversee them.
OPEN_CASE = (AO, OP)
# Closing early: retro.close_case further limits it to the case's own officer or an authorising officer.
CLOSE_CASE = (AO, OP)
# The RFR/OIFR supervision page: unanswered OIFR lists to chase, open cases (issue 26).
SUPERVISE_RETRO = (AO, AU)
RUN_RFR = (OP,)
# Two different reviewer accounts are needed before a possible match is reported.
REVIEW_RFR = (RV,)
VIEW_CASES = (AO, OP, RV, AU)
# Probe crops and custody images: only those who compare faces. Each view is audited.
VIEW_RFR_IMAGES = (OP, RV)
RUN_OIFR = (OP, EO)
VIEW_GALLERY_IMAGES = (OP, RV, EO)
VIEW_GALLERY_STATS = (A, AO, AU)
REMOVE_GALLERY_RECORD = (AO,)
IMPORT_GALLERY = (A, AO)

# The reference crowd sets the minimum threshold every later deployment gets: a configuration change by
# the system's administrator (audited).
BUILD_REFERENCE_CROWD = (A,)

# A stopped person's rights (issue 27): looking up an encounter by its reference, exporting the subject
# access response (it holds the person's image) and erasing it where the law allows. The auditor oversees
# these acts in the audit log rather than doing them.
SUBJECT_ACCESS = (DP,)
# The complaints register: the data protection officer records complaints and their outcomes; those who
# oversee and authorise deployments read it.
RECORD_COMPLAINTS = (DP,)
VIEW_COMPLAINTS = (DP, AU, AO)
