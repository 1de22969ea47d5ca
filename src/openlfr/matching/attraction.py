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

Two rules set the offsets (``OFFSET_RULES``); a calibration validates its minimum under one of them and writes
it into the reference crowd, so that enrolment applies the rule the minimum was validated with:

- ``attractors``: only an attractor gets an offset (always upwards); every other template scores as it is.
- ``normalised``: *every* template gets the signed offset ``own_threshold - t_ref``, so each one matches the
  share ``fmr`` of the crowd at the deployment's threshold. A template that draws fewer strangers than most
  (its crowd scores sit low) has its scores raised, which is where the recall comes from; one that draws
  more has them lowered. The lowering of the bar is capped at ``max_lowering``: the reference crowd cannot
  hold every kind of stranger a zone sees, and a template whose crowd scores are low only because its
  demographic is scarce in the crowd must not be made much easier to match; and a crowd too small for the
  template's own threshold to rest on ``min_ease_hits`` faces eases nothing. The attractor test still runs
  and is shown to the approver.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

OFFSET_RULES = ("attractors", "normalised")
"""How templates get offsets (module docstring); a template enrolled without any check has no rule."""


@dataclass(frozen=True)
class AttractionPolicy:
    """The rule, with the pack's reference threshold (from its calibration)."""

    reference_threshold: float
    fmr: float = 1e-3
    factor: float = 5.0
    min_hits: int = 5
    p_value: float = 1e-3
    rule: str = "attractors"
    max_lowering: float = 0.1
    """Under ``normalised``: the most a template's threshold may sit below the deployment's."""
    min_ease_hits: int = 3
    """Under ``normalised``: a template is eased only when its own threshold rests on at least this many
    crowd faces (``fmr`` x crowd size); in a smaller crowd it is an extreme score, too noisy to lower a bar
    on, and the template is only ever raised."""

    def __post_init__(self) -> None:
        if self.rule not in OFFSET_RULES:
            raise ValueError(f"unknown template offset rule {self.rule!r} ({' or '.join(OFFSET_RULES)})")
        if not self.max_lowering >= 0:
            raise ValueError(f"max_lowering must be 0 or more, not {self.max_lowering}")


@dataclass(frozen=True)
class Attraction:
    """The evidence for one template: crowd faces at or above the reference threshold, how many an
    ordinary template would match, and the offset it gets (under ``attractors``, 0 when it is not an
    attractor; under ``normalised``, signed)."""

    hits: int
    crowd: int
    expected: float
    p_value: float
    attractor: bool
    offset: float
    own_threshold: float
    """The score at which this template must match a probe for it to count as reaching the deployment's
    threshold: ``t_ref + offset``."""
    rule: str = "attractors"

    @property
    def ratio(self) -> float:
        return self.hits / self.expected if self.expected > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    def describe(self) -> str:
        if not self.attractor:
            shift = (
                f"; normalised: its threshold is {self.offset:+.3f} from the deployment's"
                if self.rule == "normalised"
                else ""
            )
            return (
                f"matches {self.hits} of {self.crowd} reference-crowd faces (about {self.expected:.1f} expected)"
                + shift
            )
        return (
            f"attracts strangers: matches {self.hits} of {self.crowd} reference-crowd faces where about "
            f"{self.expected:.1f} are expected ({self.ratio:.0f}x, p={self.p_value:.1e}); its own threshold is "
            f"{self.offset:+.3f} above the deployment's"
        )


def attraction_matrix(
    scores: npt.ArrayLike, policy: AttractionPolicy
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """For a crowd x templates score matrix, per template: (hits, p-value, attractor, offset). Under
    ``attractors`` offsets are 0 for templates that are not attractors; under ``normalised`` every template
    gets its own (lowering capped at ``max_lowering``)."""
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
    cols = np.arange(s.shape[1]) if policy.rule == "normalised" else np.flatnonzero(attractor)
    if cols.size:
        # Own threshold: the score above which only ``fmr`` of the crowd lies for this template.
        k = max(1, int(np.floor(expected)))
        top = -np.partition(-s[:, cols], k - 1, axis=0)[k - 1]
        own = top.astype(np.float64) - policy.reference_threshold
        ease = policy.max_lowering if policy.rule == "normalised" and k >= policy.min_ease_hits else 0.0
        offsets[cols] = np.maximum(-ease, own)
        # An attractor is never eased, whatever the rule (its top-k is above t_ref by construction).
        offsets[attractor] = np.maximum(offsets[attractor], 0.0)
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
        rule=policy.rule,
    )
