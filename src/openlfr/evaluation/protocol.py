"""The 1:N protocol: who is enrolled, which searches are mated and non-mated, and their scores.

- Watchlist: one image per enrolled LFW person (their first image, by file name, in which a face is found).
  A person none of whose images gives a face is a failure to enrol.
- Mated searches: the enrolled people's other images.
- Non-mated searches: LFW people left out of the watchlist (a seeded share of the single-image people, so
  that no one with several images is lost from the mated set) and the UTKFace crowd.
- Searches in which no face is found are failures to detect: they are counted and reported beside every
  rate, never silently dropped (a missed crowd face can never be a false alert).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openlfr.config import EvaluationSettings
from openlfr.evaluation.datasets import ImageRecord, age_band
from openlfr.evaluation.embeddings import EmbeddingSet
from openlfr.matching.watchlist_index import WatchlistIndex


@dataclass
class Searches:
    """A set of searches against the full watchlist: scores probe x enrolled subject (column order of
    ``ScoreData.subjects``), plus the searches with no face (failures to detect)."""

    records: list[ImageRecord]
    scores: npt.NDArray[np.float32]
    undetected: list[ImageRecord] = field(default_factory=list)

    @property
    def best(self) -> npt.NDArray[np.float32]:
        if self.scores.shape[1] == 0:
            return np.full(self.scores.shape[0], -np.inf, np.float32)
        return self.scores.max(axis=1)

    @property
    def best_column(self) -> npt.NDArray[np.int64]:
        return self.scores.argmax(axis=1)


@dataclass
class ScoreData:
    """Everything the metrics need for one pack."""

    pack: str
    subjects: list[str]
    enrolment: list[ImageRecord]
    failed_to_enrol: list[str]
    mated: Searches
    mate_column: npt.NDArray[np.int64]
    lfw_nonmated: Searches
    crowd: Searches
    low_quality_enrolments: int = 0

    @property
    def watchlist_size(self) -> int:
        return len(self.subjects)

    def mate_scores(
        self, columns: npt.NDArray[np.int64] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """(mate score, mate is rank 1) of each mated search, optionally on a sub-watchlist of columns
        (searches whose mate is not in it are left out by the caller)."""
        s = self.mated.scores if columns is None else self.mated.scores[:, columns]
        if columns is None:
            mate_col = self.mate_column
        else:
            pos = {int(c): i for i, c in enumerate(columns)}
            mate_col = np.array([pos.get(int(c), -1) for c in self.mate_column])
            keep = mate_col >= 0
            s, mate_col = s[keep], mate_col[keep]
        rows = np.arange(s.shape[0])
        ms = s[rows, mate_col] if s.size else np.zeros(0, np.float32)
        rank1 = s.argmax(axis=1) == mate_col if s.size else np.zeros(0, bool)
        return ms, rank1

    def nonmated_best(
        self,
        include_lfw: bool = True,
        crowd_keep: npt.NDArray[np.bool_] | None = None,
        columns: npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.float32]:
        crowd = self.crowd.scores if crowd_keep is None else self.crowd.scores[crowd_keep]
        parts = [crowd]
        if include_lfw:
            parts.append(self.lfw_nonmated.scores)
        if columns is not None:
            parts = [p[:, columns] for p in parts]
        allp = np.concatenate(parts, axis=0)
        if allp.shape[1] == 0:
            return np.full(allp.shape[0], -np.inf, np.float32)
        return allp.max(axis=1)


def split_lfw(records: list[ImageRecord], holdout_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """(enrolled people, held-out people): a seeded share of the single-image people is held out."""
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r.subject] += 1
    singles = sorted(p for p, c in counts.items() if c == 1)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(singles, size=round(holdout_fraction * len(singles)), replace=False).tolist())
    return set(counts) - held, held


def build_scores(lfw: EmbeddingSet, crowd: EmbeddingSet, cfg: EvaluationSettings) -> ScoreData:
    """Enrol, search, and score every search against the full watchlist."""
    enrolled_people, held = split_lfw(lfw.records, cfg.lfw_holdout_fraction, cfg.seed)
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(lfw.records):
        by_person[r.subject].append(i)

    subjects: list[str] = []
    enrol_rows: list[int] = []
    failed: list[str] = []
    mated_rows: list[int] = []
    mated_undetected: list[ImageRecord] = []
    for person in sorted(enrolled_people):
        rows = by_person[person]
        found = [i for i in rows if lfw.detected[i]]
        if not found:
            failed.append(person)
            continue
        subjects.append(person)
        enrol_rows.append(found[0])
        for i in rows:
            if i == found[0]:
                continue
            if lfw.detected[i]:
                mated_rows.append(i)
            else:
                mated_undetected.append(lfw.records[i])
    index = WatchlistIndex(lfw.embeddings[enrol_rows], subjects)
    # WatchlistIndex orders subjects by id; keep our column order identical to it.
    col_of = {s: j for j, s in enumerate(index.subjects)}
    subjects = index.subjects
    enrolment = [lfw.records[i] for i in sorted(enrol_rows, key=lambda i: col_of[lfw.records[i].subject])]

    def search(rows: list[int], es: EmbeddingSet) -> npt.NDArray[np.float32]:
        if not rows:
            return np.zeros((0, len(subjects)), np.float32)
        return index.subject_scores(es.embeddings[rows]).astype(np.float32)

    mated = Searches([lfw.records[i] for i in mated_rows], search(mated_rows, lfw), mated_undetected)
    mate_column = np.array([col_of[lfw.records[i].subject] for i in mated_rows], dtype=np.int64)
    held_rows = [i for i, r in enumerate(lfw.records) if r.subject in held]
    lfw_nm = Searches(
        [lfw.records[i] for i in held_rows if lfw.detected[i]],
        search([i for i in held_rows if lfw.detected[i]], lfw),
        [lfw.records[i] for i in held_rows if not lfw.detected[i]],
    )
    crowd_rows = [i for i in range(len(crowd.records)) if crowd.detected[i]]
    crowd_s = Searches(
        [crowd.records[i] for i in crowd_rows],
        search(crowd_rows, crowd),
        [r for i, r in enumerate(crowd.records) if not crowd.detected[i]],
    )
    low_q = int(np.sum(~lfw.acceptable[enrol_rows])) if enrol_rows else 0
    return ScoreData(lfw.pack, subjects, enrolment, failed, mated, mate_column, lfw_nm, crowd_s, low_q)


def group_labels(records: list[ImageRecord], attribute: str, age_edges: list[int]) -> list[str]:
    """Each record's group for ``race``, ``sex`` or ``age``."""
    if attribute == "race":
        return [r.race or "unknown" for r in records]
    if attribute == "sex":
        return [r.sex or "unknown" for r in records]
    if attribute == "age":
        return [age_band(r.age, age_edges) for r in records]
    raise ValueError(f"unknown attribute {attribute!r}")
