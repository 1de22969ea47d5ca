"""Opening the store for a command: the one way every CLI module reaches the database.

It lives apart from the area modules (``cli/governance.py``, ``cli/identity.py``, ...) so that they all
import it from here rather than from one another: the login commands need the store, and the governance
commands need the logged-in user, so keeping this in either made the two import each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from openlfr.cli.app import clean_errors, settings
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.errors import GovernanceError
from openlfr.matching.calibration import CalibrationError
from openlfr.store import Store, StoreError, open_store
from openlfr.store.blobs import BlobNotFound
from openlfr.store.crypto import CryptoError
from openlfr.vision import ImageError, ModelPackError

ERRORS = (
    GovernanceError,
    StoreError,
    CryptoError,
    BlobNotFound,
    ImageError,
    ModelPackError,
    CalibrationError,
)
"""The expected errors of a command that uses the store: each becomes a one-line message."""


@contextmanager
def store_session() -> Iterator[Store]:
    """The store, with the expected errors turned into one-line messages."""
    with clean_errors(*ERRORS):
        store = open_store(settings())
        sweep_blobs(store, trigger="start")  # what a killed command left in the blob folder
        try:
            yield store
        finally:
            store.close()
