"""Identification measures for retrospective (RFR) and operator-initiated (OIFR) search: rank-k
identification rates as the gallery grows, overall and by demographic group, with exact intervals.

An RFR or OIFR search returns a candidate list that a person reviews (no threshold decides a match), so
the measure NPL reports for it is the rank-k identification rate: the share of mated searches whose mate is
among the first ``k`` candidates. Protocol (stated in the report):

- Mated people: LFW people with two or more images. The gallery holds each one's first image (by file
  name) in which a face is found; the search is their next image. One search per person, so that the
  searches are independent (Clopper-Pearson assumes it) and no one with many photos (LFW has a person
  with over a hundred) weighs more than anyone else. A search with no face found is a failure to detect:
  reported, and counted as a miss in the rates "counting failures to detect".
- Real distractors: every other LFW person's first image with a face, and the UTKFace faces (minus those
  crowd hygiene found to be an enrolled LFW person: such a face is the mate's double, not a distractor).
- Larger galleries: synthetic distractors drawn from a Gaussian with the real distractors' mean and
  covariance, L2-normalised (so they sit where real faces sit), added up to each size asked for. They are
  generated chunk by chunk from a seed and never held all at once; each size's distractors include the
  smaller sizes', so the rates of one run are nested.
- Rank of a search: 1 + the number of gallery templates scoring strictly higher than its mate, by the exact
  matrix product (the reference: the default approximate index's recall against it is measured by
  ``benchmarks/gallery_index.py``).
- Groups: the demographic labels of the mated people. Only LFW's sex labels exist for people with an
  identity; UTKFace labels race, sex and age but has no identities, so it can only be a distractor, and the
  other data sets with identities (ORL, Yale, the deepface test set) carry no labels. An attribute no mated
  person is labelled with is reported as not measurable, with the reason, never estimated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from openlfr.evaluation.datasets import ImageRecord
from openlfr.evaluation.embeddings import EmbeddingSet
from openlfr.evaluation.metrics import EvaluationError, GroupTest, Rate, pairwise_fisher
from openlfr.evaluation.protocol import group_labels

ATTRIBUTES = ("race", "sex", "age")
UNKNOWN = "unknown"
SYNTHETIC_CHUNK = 100_000
"""Synthetic distractors generated (and scored) at a time: bounds memory at any gallery size."""

ProgressFn = Callable[[int, int], None]
"""Called with (distractors scored, distractors in all)."""

SYNTHETIC_STATEMENT = (
    "Synthetic distractors: Gaussian with the mean and covariance of the real distractor templates, "
    "L2-normalised; a stand-in for real custody faces, which would include lookalikes and relatives and be "
    "harder."
)


@dataclass
class IdentificationData:
    """One pack's mated searches and real gallery (templates, L2-normalised as the packs return them)."""

    pack: str
    probe_records: list[ImageRecord]
    """The mated search of each mated person (row ``i`` of ``probes``; its mate is row ``i`` of ``mates``)."""
    probes: npt.NDArray[np.float32]
    mates: npt.NDArray[np.float32]
    distractors: npt.NDArray[np.float32]
    """Real distractors: other LFW people's first images and the kept UTKFace faces."""
    failed_to_detect: list[ImageRecord] = field(default_factory=list)
    """Mated people whose search image gave no face (their mate is in the gallery all the same)."""
    failed_to_enrol: int = 0
    """LFW people with two or more images none of which gave a face (left out entirely)."""
    lfw_distractors: int = 0
    crowd_distractors: int = 0
    crowd_excluded: int = 0

    @property
    def real_gallery(self) -> int:
        return len(self.mates) + len(self.distractors)


def build_identification(
    lfw: EmbeddingSet, crowd: EmbeddingSet, crowd_excluded: set[str] | frozenset[str] = frozenset()
) -> IdentificationData:
    """The protocol above, from one pack's LFW and UTKFace templates (``crowd_excluded``: UTKFace
    ``rel`` paths that crowd hygiene excluded)."""
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(lfw.records):
        rows_of[r.subject].append(i)
    probe_rows: list[int] = []
    mate_rows: list[int] = []
    lfw_distractor_rows: list[int] = []
    ftd: list[ImageRecord] = []
    fte = 0
    for person in sorted(rows_of):
        rows = sorted(rows_of[person], key=lambda i: lfw.records[i].rel)
        found = [i for i in rows if lfw.detected[i]]
        if len(rows) < 2:
            lfw_distractor_rows.extend(found)
            continue
        if not found:
            fte += 1
            continue
        others = [i for i in rows if i != found[0]]
        search = next((i for i in others if lfw.detected[i]), None)
        if search is None:
            # Every other image gave no face: one failure to detect for this person (the next image).
            ftd.append(lfw.records[others[0]])
            lfw_distractor_rows.append(found[0])
            continue
        mate_rows.append(found[0])
        probe_rows.append(search)
    crowd_rows = [i for i, r in enumerate(crowd.records) if crowd.detected[i] and r.rel not in crowd_excluded]
    n_excluded = sum(1 for i, r in enumerate(crowd.records) if crowd.detected[i] and r.rel in crowd_excluded)
    if not probe_rows:
        raise EvaluationError("no LFW person has two images with a face: no mated identification search")
    dim = lfw.embeddings.shape[1]
    distractors = np.concatenate(
        [
            lfw.embeddings[lfw_distractor_rows].reshape(-1, dim),
            crowd.embeddings[crowd_rows].reshape(-1, dim),
        ]
    ).astype(np.float32)
    return IdentificationData(
        pack=lfw.pack,
        probe_records=[lfw.records[i] for i in probe_rows],
        probes=lfw.embeddings[probe_rows].astype(np.float32),
        mates=lfw.embeddings[mate_rows].astype(np.float32),
        distractors=distractors,
        failed_to_detect=ftd,
        failed_to_enrol=fte,
        lfw_distractors=len(lfw_distractor_rows),
        crowd_distractors=len(crowd_rows),
        crowd_excluded=n_excluded,
    )


def count_better(
    probes: npt.NDArray[np.float32], mate_scores: npt.NDArray[np.float32], gallery: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """For each probe, how many rows of ``gallery`` score strictly higher than its mate."""
    if gallery.shape[0] == 0:
        return np.zeros(len(probes), np.int64)
    return np.asarray((probes @ gallery.T > mate_scores[:, None]).sum(axis=1), np.int64)


def mate_scores_of(
    probes: npt.NDArray[np.float32], mates: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Each probe's score with its own mate, from the same matrix product as every other gallery score (an
    einsum can differ in the last bit and would count the mate as beating itself)."""
    return np.diag(probes @ mates.T).astype(np.float32)


def real_ranks(data: IdentificationData) -> npt.NDArray[np.int64]:
    """Rank of each mated search's mate (1 = best) in the real gallery (mates + real distractors)."""
    mate = mate_scores_of(data.probes, data.mates)
    return 1 + count_better(data.probes, mate, data.mates) + count_better(data.probes, mate, data.distractors)


def synthetic_distractors(
    real: npt.NDArray[np.float32], count: int, seed: int, chunk: int = SYNTHETIC_CHUNK
) -> Iterator[npt.NDArray[np.float32]]:
    """``count`` synthetic distractors (see the module docstring), ``chunk`` at a time; the same seed gives
    the same vectors, so a run can be checked by regenerating them."""
    if real.shape[0] < 2:
        raise EvaluationError("too few real distractors to model synthetic ones on")
    mean = real.mean(axis=0).astype(np.float64)
    cov = np.cov(real.astype(np.float64), rowvar=False)
    # A symmetric square root that tolerates a singular covariance (more dimensions than real faces).
    w, v = np.linalg.eigh(cov)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        m = min(chunk, count - made)
        x = (rng.standard_normal((m, real.shape[1])) @ root + mean).astype(np.float32)
        yield x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        made += m


@dataclass(frozen=True)
class RankRow:
    """Rank-k rates at one gallery size and one k."""

    gallery_size: int
    synthetic: int
    """Synthetic distractors in this gallery (0 for the real gallery)."""
    k: int
    overall: Rate
    overall_incl_ftd: Rate
    """Counting mated searches whose image gave no face as misses."""
    groups: dict[str, dict[str, Rate]]
    """attribute -> group -> rate (measurable attributes only; unlabelled people left out)."""
    tests: list[GroupTest]
    """Fisher's exact test between every pair of groups, Holm-corrected over this size and k."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "gallery_size": self.gallery_size,
            "synthetic": self.synthetic,
            "k": self.k,
            "overall": self.overall.as_dict(),
            "overall_incl_ftd": self.overall_incl_ftd.as_dict(),
            "groups": {a: {g: r.as_dict() for g, r in gs.items()} for a, gs in self.groups.items()},
            "tests": [vars(t) for t in self.tests],
        }


@dataclass(frozen=True)
class IdentificationResult:
    """Rank-k identification rates of one pack on galleries of growing size."""

    pack: str
    mated_searches: int
    failed_to_detect: int
    failed_to_enrol: int
    real_gallery: int
    mates: int
    lfw_distractors: int
    crowd_distractors: int
    crowd_excluded: int
    ranks: list[int]
    sizes: list[int]
    rows: list[RankRow]
    group_counts: dict[str, dict[str, int]]
    """attribute -> group -> mated searches (``unknown``: people without that label)."""
    not_measurable: dict[str, str]
    """attribute -> why no rate can be given for it."""
    skipped_sizes: list[int]
    """Sizes asked for that were not built (at or below the real gallery, or above the bound)."""
    max_gallery: int
    search: str = "exact (float32 matrix product)"
    synthetic: str = SYNTHETIC_STATEMENT
    mate_ranks: list[int] = field(default_factory=list)
    """Rank of each mated search's mate at the largest gallery (results.json only, for checking)."""

    def row(self, size: int, k: int) -> RankRow:
        return next(r for r in self.rows if r.gallery_size == size and r.k == k)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "mated_searches": self.mated_searches,
            "failed_to_detect": self.failed_to_detect,
            "failed_to_enrol": self.failed_to_enrol,
            "real_gallery": self.real_gallery,
            "mates": self.mates,
            "lfw_distractors": self.lfw_distractors,
            "crowd_distractors": self.crowd_distractors,
            "crowd_excluded": self.crowd_excluded,
            "ranks": self.ranks,
            "sizes": self.sizes,
            "skipped_sizes": self.skipped_sizes,
            "max_gallery": self.max_gallery,
            "search": self.search,
            "synthetic": self.synthetic,
            "group_counts": self.group_counts,
            "not_measurable": self.not_measurable,
            "rows": [r.as_dict() for r in self.rows],
            "mate_ranks_at_largest": self.mate_ranks,
        }


def _not_measurable_reason(attribute: str) -> str:
    if attribute == "sex":
        return "no mated person in the data has a sex label"
    what = "race" if attribute == "race" else "age"
    return (
        f"no mated person has {'a race' if what == 'race' else 'an age'} label: LFW (the only data with many identities) labels sex only; "
        f"UTKFace labels {what} but has no identities, so it serves only as distractors; ORL, Yale and the "
        "deepface test set have identities but no labels"
    )


def _rates(
    ranks: npt.NDArray[np.int64],
    labels: dict[str, npt.NDArray[np.str_]],
    measurable: Sequence[str],
    size: int,
    synthetic: int,
    ks: Sequence[int],
    n_ftd: int,
    alpha: float,
) -> list[RankRow]:
    out = []
    for k in ks:
        hit = ranks <= k
        groups: dict[str, dict[str, Rate]] = {}
        counts: dict[str, dict[str, tuple[int, int]]] = {}
        for attr in measurable:
            lab = labels[attr]
            names = sorted(g for g in set(lab.tolist()) if g != UNKNOWN)
            counts[attr] = {g: (int(hit[lab == g].sum()), int((lab == g).sum())) for g in names}
            groups[attr] = {g: Rate.of(kk, nn, alpha) for g, (kk, nn) in counts[attr].items()}
        n_hit = int(hit.sum())
        out.append(
            RankRow(
                gallery_size=size,
                synthetic=synthetic,
                k=k,
                overall=Rate.of(n_hit, len(ranks), alpha),
                overall_incl_ftd=Rate.of(n_hit, len(ranks) + n_ftd, alpha),
                groups=groups,
                tests=pairwise_fisher(counts, alpha),
            )
        )
    return out


def evaluate_identification(
    data: IdentificationData,
    sizes: Sequence[int],
    ranks: Sequence[int],
    *,
    max_gallery: int,
    age_edges: list[int],
    alpha: float = 0.05,
    seed: int = 2019,
    progress: ProgressFn | None = None,
) -> IdentificationResult:
    """Rank-k rates on the real gallery, then with synthetic distractors up to each size in ``sizes``
    above the real gallery and at most ``max_gallery``."""
    ks = sorted(set(ranks))
    real = data.real_gallery
    grown = sorted({s for s in sizes if real < s <= max_gallery})
    skipped = sorted({s for s in sizes if s not in grown})
    labels = {a: np.array(group_labels(data.probe_records, a, age_edges)) for a in ATTRIBUTES}
    group_counts = {
        a: {g: int((lab == g).sum()) for g in sorted(set(lab.tolist()))} for a, lab in labels.items()
    }
    not_measurable = {
        a: _not_measurable_reason(a) for a in ATTRIBUTES if set(labels[a].tolist()) <= {UNKNOWN}
    }
    measurable = [a for a in ATTRIBUTES if a not in not_measurable]
    n_ftd = len(data.failed_to_detect)

    rank = real_ranks(data)
    rows = _rates(rank, labels, measurable, real, 0, ks, n_ftd, alpha)
    mate = mate_scores_of(data.probes, data.mates)
    total = (grown[-1] - real) if grown else 0
    stream = synthetic_distractors(data.distractors, total, seed) if total else iter(())
    have = real
    pending = np.zeros((0, data.probes.shape[1]), np.float32)
    for size in grown:
        while have < size:
            if not len(pending):
                pending = next(stream)
            # Cut at the size boundary: a chunk may straddle two sizes.
            take = min(len(pending), size - have)
            rank = rank + count_better(data.probes, mate, pending[:take])
            pending = pending[take:]
            have += take
            if progress is not None:
                progress(have - real, total)
        rows += _rates(rank, labels, measurable, size, size - real, ks, n_ftd, alpha)
    return IdentificationResult(
        pack=data.pack,
        mated_searches=len(data.probes),
        failed_to_detect=n_ftd,
        failed_to_enrol=data.failed_to_enrol,
        real_gallery=real,
        mates=len(data.mates),
        lfw_distractors=data.lfw_distractors,
        crowd_distractors=data.crowd_distractors,
        crowd_excluded=data.crowd_excluded,
        ranks=ks,
        sizes=[real, *grown],
        rows=rows,
        group_counts=group_counts,
        not_measurable=not_measurable,
        skipped_sizes=skipped,
        max_gallery=max_gallery,
        mate_ranks=rank.tolist(),
    )
