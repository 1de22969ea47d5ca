"""Which data an evaluation was made from, by name and content hash, never by a path of the machine
that ran it (issue 18): a calibration file then says the same thing wherever it is read, and anyone holding
the data can check that it is the same data."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from openlfr.evaluation.datasets import ImageRecord
from openlfr.evaluation.embeddings import file_sha256


@dataclass(frozen=True)
class DatasetFingerprint:
    """One dataset as used: its name, how many images, and a SHA-256 over the images themselves."""

    name: str
    images: int
    content_sha256: str
    """SHA-256 of the sorted lines ``<relative path>\\t<SHA-256 of the file>``: the same files under the
    same names give the same value on any machine."""

    def describe(self) -> str:
        return f"{self.name} {self.images} images (content sha256 {self.content_sha256[:16]})"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint(name: str, records: Sequence[ImageRecord]) -> DatasetFingerprint:
    """The fingerprint of the images of ``records`` (all from one dataset)."""
    lines = sorted(f"{r.rel}\t{file_sha256(r.path)}\n" for r in records)
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
    return DatasetFingerprint(name, len(lines), h.hexdigest())


def describe_all(prints: Sequence[DatasetFingerprint]) -> str:
    """One line naming every dataset used, e.g. for ``Calibration.dataset``."""
    return "; ".join(p.describe() for p in prints)
