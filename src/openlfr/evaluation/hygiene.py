"""Crowd hygiene: find UTKFace faces that are really people enrolled from LFW, and exclude them openly.

UTKFace draws on celebrity photographs and some of those celebrities are in LFW, so a crowd face matching an
enrolled LFW person may be a true match, not a false alert. Each pack gets a *strict* threshold from
comparisons known to be between different people (LFW mated searches against everyone but their mate, and
held-out LFW people against everyone): the score exceeded by only ``hygiene_fmr`` of them. A crowd face is
excluded when its best watchlist candidate is at or above that strict threshold

- in at least two packs, naming the same subject, when two or more packs are evaluated together
  (independent models agreeing), or
- in the one pack, when only one is evaluated (weaker: the report says so),

unless more than ``max_per_subject`` crowd faces reach the same enrolled person: a crowd of strangers
(UTKFace has no identities, but it does not hold dozens of photos of one person) scoring that high against one
template says the template attracts lookalikes (seen here: one LFW baby photo reached by dozens of different
babies). Such pairs stay in the crowd as false alerts, and the report lists those subjects.

Every exclusion is listed in the report with its scores, and shown in an image grid for a human to check.
Nothing about any particular file is special-cased.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from openlfr.evaluation.metrics import EvaluationError, just_above, top_k_desc
from openlfr.evaluation.protocol import ScoreData


@dataclass(frozen=True)
class Exclusion:
    crowd_rel: str
    """The UTKFace file (relative to its folder)."""
    subject: str
    """The enrolled LFW person it matched."""
    scores: dict[str, float]
    """Pack -> score of that pair."""


def strict_threshold(data: ScoreData, fmr: float) -> tuple[float, int]:
    """(threshold, comparisons): the score that only ``fmr`` of known-different LFW comparisons reach."""
    mated = data.mated.scores.astype(np.float64, copy=True)
    if mated.size:
        mated[np.arange(mated.shape[0]), data.mate_column] = -np.inf
    parts = [mated.ravel(), data.lfw_nonmated.scores.astype(np.float64).ravel()]
    allv = np.concatenate(parts)
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        raise EvaluationError("no known-different comparisons to set a strict threshold from")
    allowed = int(np.floor(fmr * allv.size))
    top = top_k_desc(allv, allowed + 1)
    return just_above(top[allowed]), int(allv.size)


@dataclass(frozen=True)
class HygieneResult:
    exclusions: list[Exclusion]
    strict: dict[str, float]
    """Pack -> strict threshold (``inf`` where the data are too small to set one)."""
    kept_subjects: dict[str, int]
    """Enrolled people reached by more than ``max_per_subject`` crowd faces -> how many (kept as false
    alerts, not excluded)."""


def crowd_hygiene(packs: dict[str, ScoreData], fmr: float, max_per_subject: int = 5) -> HygieneResult:
    """Which crowd faces to exclude as probably the same person as an enrolled one (see the module)."""
    strict: dict[str, float] = {}
    flagged: dict[str, dict[str, tuple[str, float]]] = {}
    for name, data in packs.items():
        t, comparisons = strict_threshold(data, fmr)
        strict[name] = t
        if comparisons * fmr < 1:
            # Too few known-different comparisons to estimate a score that rare: excluding on the maximum of
            # a small sample would throw away ordinary crowd faces. No hygiene for this pack (reported).
            strict[name] = float("inf")
            flagged[name] = {}
            continue
        best = data.crowd.best
        col = data.crowd.best_column
        flagged[name] = {
            r.rel: (data.subjects[int(col[i])], float(best[i]))
            for i, r in enumerate(data.crowd.records)
            if best[i] >= t
        }
    need = 2 if len(packs) >= 2 else 1
    votes: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for name, flags in flagged.items():
        for rel, (subject, score) in flags.items():
            votes[(rel, subject)][name] = score
    agreed = [
        Exclusion(rel, subject, scores)
        for (rel, subject), scores in sorted(votes.items(), key=lambda kv: -max(kv[1].values()))
        if len(scores) >= need
    ]
    per_subject: dict[str, int] = defaultdict(int)
    for x in agreed:
        per_subject[x.subject] += 1
    crowded = {s: n for s, n in per_subject.items() if n > max_per_subject}
    return HygieneResult([x for x in agreed if x.subject not in crowded], strict, crowded)
