"""How strongly a reference template attracts strangers, measured against a reference crowd.

Some reference photographs draw far more non-mated faces than others (an infant photo draws other
children; a blurred or heavily lit face draws many faces). Averaged over a watchlist such a template can
make a whole demographic group's false-alert rate. At enrolment each template is compared with a reference
crowd of non-mated faces: at the pack's reference threshold ``t_ref`` (where the average template matches a
share ``fmr`` of strangers) it is expected to match about ``fmr * crowd`` faces. A template matching
``factor`` times that, and significantly more (one-sided binomial test), is an *attractor*. It gets its own
higher threshold: an offset equal to how far above ``t_ref`` its own score must go to match only the share
``fmr`` of the crowd. A search then compares ``score - offset`` with the deployment's threshold, so the
attractor alerts on strangers no more often than an ordinary template does. Nothing here decides: the
offset and its evidence are shown to the approver and audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class AttractionPolicy:
    """The rule, with the pack's reference threshold (from its calibration)."""

    reference_threshold: float
    fmr: float = 1e-3
    factor: float = 5.0
    min_hits: int = 5
    p_value: float = 1e-3


@dataclass(frozen=True)
class Attraction:
    """The evidence for one template: crowd faces at or above the reference threshold, how many an
    ordinary template would match, and the offset it gets (0 when it is not an attractor)."""

    hits: int
    crowd: int
    expected: float
    p_value: float
    attractor: bool
    offset: float
    own_threshold: float
    """The score at which this template matches the share ``fmr`` of the crowd."""

    @property
    def ratio(self) -> float:
        return self.hits / self.expected if self.expected > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    def describe(self) -> str:
        if not self.attractor:
            return f"matches {self.hits} of {self.crowd} reference-crowd faces (about {self.expected:.1f} expected)"
        return (
            f"attracts strangers: matches {self.hits} of {self.crowd} reference-crowd faces where about "
            f"{self.expected:.1f} are expected ({self.ratio:.0f}x, p={self.p_value:.1e}); its own threshold is "
            f"{self.offset:+.3f} above the deployment's"
        )


def attraction_matrix(
    scores: npt.ArrayLike, policy: AttractionPolicy
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """For a crowd x templates score matrix, per template: (hits, p-value, attractor, offset); offsets are
    0 for templates that are not attractors."""
    s = np.asarray(scores, dtype=np.float32)
    n = s.shape[0]
    if n == 0 or s.shape[1] == 0:
        m = s.shape[1]
        return np.zeros(m, np.int64), np.ones(m), np.zeros(m, bool), np.zeros(m)
    hits = (s >= policy.reference_threshold).sum(axis=0).astype(np.int64)
    expected = policy.fmr * n
    from scipy.stats import binom  # here, not at the top: scipy.stats costs every CLI process ~1 s to import

    # P(X >= hits) under Binomial(n, fmr): sf(hits - 1).
    p = binom.sf(hits - 1, n, policy.fmr)
    attractor = (hits >= max(policy.min_hits, policy.factor * expected)) & (p < policy.p_value)
    offsets = np.zeros(s.shape[1])
    if attractor.any():
        # Own threshold: the score above which only ``fmr`` of the crowd lies for this template.
        k = max(1, int(np.floor(expected)))
        cols = np.flatnonzero(attractor)
        top = -np.partition(-s[:, cols], k - 1, axis=0)[k - 1]
        offsets[cols] = np.maximum(0.0, top.astype(np.float64) - policy.reference_threshold)
    return hits, p, attractor, offsets


def attraction_of(template: npt.ArrayLike, crowd: npt.ArrayLike, policy: AttractionPolicy) -> Attraction:
    """The evidence for one (L2-normalised) template against a crowd of (L2-normalised) templates."""
    c = np.asarray(crowd, dtype=np.float32)
    t = np.asarray(template, dtype=np.float32).ravel()
    t = t / max(float(np.linalg.norm(t)), 1e-12)
    scores = (c @ t)[:, None] if c.size else np.zeros((0, 1), np.float32)
    hits, p, attractor, offsets = attraction_matrix(scores, policy)
    return Attraction(
        hits=int(hits[0]),
        crowd=int(c.shape[0]),
        expected=policy.fmr * c.shape[0],
        p_value=float(p[0]),
        attractor=bool(attractor[0]),
        offset=float(offsets[0]),
        own_threshold=policy.reference_threshold + float(offsets[0]),
    )
