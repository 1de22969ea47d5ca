"""Exact 1:N search of probes against a watchlist: one matrix product.

A watchlist of 10,000 subjects x 512 floats is 20 MB; a product with a batch of probes is microseconds
to milliseconds, so no approximation is needed (DESIGN.md, "Speed principles"). A subject may have several
reference templates; its score for a probe is its best template's (``fusion="max"``), or the score of the
normalised mean of its templates (``fusion="mean"``, a fused template). Either way a candidate names the
single reference row that is most similar to the probe, since that enrolled image is what an officer sees.

A template may carry an *offset* (its own threshold relative to the deployment's, set at enrolment
against the reference crowd, see ``matching/attraction.py``: positive for a template that attracts
strangers, negative under the ``normalised`` rule for one that draws fewer than most): the offset is
subtracted from its scores before anything is compared or ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openlfr.vision.face import FloatArray, l2_normalise


@dataclass(frozen=True)
class Candidate:
    """A watchlist subject returned for a probe, with its score (cosine similarity) and rank (1 = best)."""

    subject_id: str
    score: float
    rank: int
    template_index: int
    """Row of the best-matching reference template (to show that enrolled image beside the probe)."""


class WatchlistIndex:
    """Reference templates with their subject ids, searched exactly."""

    def __init__(
        self,
        templates: npt.ArrayLike,
        subject_ids: Sequence[str],
        *,
        fusion: str = "max",
        offsets: npt.ArrayLike | None = None,
    ) -> None:
        if fusion not in ("max", "mean"):
            raise ValueError(f"unknown template fusion {fusion!r} (max or mean)")
        t = np.asarray(templates, dtype=np.float32)
        if t.ndim != 2:
            t = t.reshape(len(subject_ids), -1) if len(subject_ids) else np.zeros((0, 1), np.float32)
        if len(subject_ids) != t.shape[0]:
            raise ValueError(f"{t.shape[0]} templates but {len(subject_ids)} subject ids")
        self._templates = l2_normalise(t) if t.shape[0] else t
        subjects = np.asarray([str(s) for s in subject_ids], dtype=object)
        # Rows grouped by subject, so a subject's best template is one reduceat over its contiguous block.
        uniq, inverse = np.unique(subjects.astype(str), return_inverse=True)
        self._order = np.argsort(inverse, kind="stable")
        self._templates = self._templates[self._order]
        self._original_row = self._order
        counts = np.bincount(inverse, minlength=len(uniq))
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._subjects: list[str] = [str(s) for s in uniq]
        self._one_each = bool(np.all(counts == 1))
        off = np.zeros(len(subjects), np.float32) if offsets is None else np.asarray(offsets, np.float32)
        if off.shape != (len(subjects),):
            raise ValueError(f"{off.size} offsets for {len(subjects)} templates")
        self._offsets = off[self._order]
        self._has_offsets = bool(np.any(self._offsets != 0))
        self.fusion = fusion
        self._fused: FloatArray | None = None
        self._fused_offsets = np.zeros(len(self._subjects), np.float32)
        if fusion == "mean" and not self._one_each and self._templates.shape[0]:
            sums = np.add.reduceat(self._templates, self._starts, axis=0)
            self._fused = l2_normalise(sums)
            # A fused template is as strict as its strictest reference.
            self._fused_offsets = np.maximum.reduceat(self._offsets, self._starts)

    @property
    def dim(self) -> int:
        return int(self._templates.shape[1]) if self._templates.shape[0] else 0

    @property
    def subject_count(self) -> int:
        return len(self._subjects)

    @property
    def template_count(self) -> int:
        return int(self._templates.shape[0])

    @property
    def subjects(self) -> list[str]:
        """Subject ids in column order of ``subject_scores``."""
        return list(self._subjects)

    def _similarities(self, probes: npt.ArrayLike) -> FloatArray:
        p = l2_normalise(np.atleast_2d(np.asarray(probes, dtype=np.float32)))
        if self.template_count == 0:
            return np.zeros((p.shape[0], 0), np.float32)
        if p.shape[1] != self.dim:
            raise ValueError(f"probe has {p.shape[1]} dimensions, the watchlist {self.dim}")
        sims = p @ self._templates.T
        return sims - self._offsets if self._has_offsets else sims

    def _subject_best(self, probes: npt.ArrayLike, sims: FloatArray) -> FloatArray:
        if self._fused is not None:
            p = l2_normalise(np.atleast_2d(np.asarray(probes, dtype=np.float32)))
            return p @ self._fused.T - self._fused_offsets
        if self._one_each or sims.shape[1] == 0:
            return sims
        return np.maximum.reduceat(sims, self._starts, axis=1)

    def subject_scores(self, probes: npt.ArrayLike) -> FloatArray:
        """Probes x subjects: each subject's score for each probe (best template, or fused template)."""
        return self._subject_best(probes, self._similarities(probes))

    def search(
        self, probes: npt.ArrayLike, k: int = 1, threshold: float | None = None
    ) -> list[list[Candidate]]:
        """The top ``k`` subjects for each probe, best first; only those at or above ``threshold`` if given."""
        return self.search_with_scores(probes, k, threshold)[0]

    def search_with_scores(
        self, probes: npt.ArrayLike, k: int = 1, threshold: float | None = None
    ) -> tuple[list[list[Candidate]], FloatArray]:
        """:meth:`search`'s top ``k`` and :meth:`subject_scores`' matrix from one matrix product.

        The live pipeline needs both for each probe: the best candidates (with the template to show) and
        every subject's score (to keep the subjects already in a track's evidence up to date). Scores are
        the same as :meth:`subject_scores` (fused templates and attraction offsets applied).
        """
        sims = self._similarities(probes)
        best = self._subject_best(probes, sims)
        n_subj = best.shape[1]
        k = min(k, n_subj)
        ends = np.append(self._starts[1:], self.template_count)
        out: list[list[Candidate]] = []
        for i in range(best.shape[0]):
            if k == 0:
                out.append([])
                continue
            top = np.argpartition(-best[i], k - 1)[:k] if k < n_subj else np.arange(n_subj)
            top = top[np.argsort(-best[i, top], kind="stable")]
            cands = []
            for r, j in enumerate(top):
                if threshold is not None and best[i, j] < threshold:
                    break
                # The reference an officer is shown: the subject's closest enrolled image.
                block = sims[i, self._starts[j] : ends[j]]
                row = int(self._original_row[self._starts[j] + int(np.argmax(block))])
                cands.append(Candidate(self._subjects[j], float(best[i, j]), r + 1, row))
            out.append(cands)
        return out, best
