"""Watchlists: enrol subjects from reference images, import a whole list from CSV, list and load them.

Each subject has a category from the closed list, a reason, the image source and legal basis, who
approved the entry and when it expires, and one or more reference images. An image is refused (with the
reason) when it holds no face, several faces of similar size, a face below the quality bar, the same
bytes as an image already enrolled, or a face that matches another enrolled subject (the same person
entered twice). Images are stored as encrypted blobs, templates encrypted in the database, both under the
deployment's watchlist key; closing the deployment destroys all of it.

The work is split by job: :mod:`.entries` (what an entry is and how it is checked), :mod:`.csv_import`
(reading a CSV), :mod:`.enrolment` (analysing and refusing images, the all-or-nothing write) and
:mod:`.storage` (rows, encrypted templates and blobs). The names below stay importable from here.
"""

from openlfr.governance.watchlists.csv_import import (
    CSV_COLUMNS,
    CSV_OPTIONAL,
    CsvSubject,
    ImageFile,
    read_watchlist_csv,
)
from openlfr.governance.watchlists.enrolment import (
    NearestOther,
    PreparedBatch,
    Progress,
    ReferenceGallery,
    analyse_reference,
    enrol_subject,
    import_watchlist,
    prepare_batch,
)
from openlfr.governance.watchlists.entries import (
    EnrolmentError,
    ImportReport,
    ReferenceImage,
    Refusal,
    SubjectEntry,
    SubjectImages,
    SubjectInfo,
    parse_category,
    parse_date,
    parse_time,
    validate_entry,
)
from openlfr.governance.watchlists.storage import (
    EnrolledTemplates,
    PreparedImage,
    PreparedSubject,
    decode_template,
    list_subjects,
    load_enrolled,
    template_aad,
)

__all__ = [
    "CSV_COLUMNS",
    "CSV_OPTIONAL",
    "CsvSubject",
    "EnrolledTemplates",
    "EnrolmentError",
    "ImageFile",
    "ImportReport",
    "NearestOther",
    "PreparedBatch",
    "PreparedImage",
    "PreparedSubject",
    "Progress",
    "ReferenceGallery",
    "ReferenceImage",
    "Refusal",
    "SubjectEntry",
    "SubjectImages",
    "SubjectInfo",
    "analyse_reference",
    "decode_template",
    "enrol_subject",
    "import_watchlist",
    "list_subjects",
    "load_enrolled",
    "parse_category",
    "parse_date",
    "parse_time",
    "prepare_batch",
    "read_watchlist_csv",
    "template_aad",
    "validate_entry",
]
