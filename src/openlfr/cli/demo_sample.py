"""The sample ``openlfr demo`` runs on: watchlist photos and a clip, with neutral, demonstration-only entries.

Two samples exist. With the shared face data (``OPENLFR_DATA``) the demo keeps its richer clip: a real
stage recording with an audience, and public library photos. Without it, :func:`generated_sample` builds
one at run time from public-domain images that installed packages already carry, so a bare clone can show
the whole workflow:

* the NASA portrait of an astronaut in scikit-image's data (``skimage.data.astronaut()``, public domain);
* the US Navy portrait in matplotlib's sample data (``grace_hopper.jpg``, public domain) and the CC0
  "cameraman" in scikit-image's data, as people in the scene who are on no watchlist.

The astronaut is enrolled from a differently cropped and lit copy and then moves through a generated scene
for a few seconds, changing scale, in-plane rotation, perspective and light. One public-domain face cannot
say anything about accuracy: this is a demonstration of the workflow only, and the demo says so.

Every entry of every sample has a neutral id (``DEMO-0001``...), no name, and says it is a demonstration:
the photos are of real people, none of whom is wanted, missing or sought by anyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

DEMONSTRATION_NOTE = (
    "This is a demonstration of the workflow, not of accuracy: the watchlist is a stand-in, and no one in "
    "the sample is wanted, missing or sought."
)
# The closed list of categories has no "demonstration" key (and should not: a real deployment must never
# carry one), so every demo entry takes the same category and says in its reason that it is a stand-in.
DEMO_CATEGORY = "wanted_by_court"
DEMO_REASON = "DEMONSTRATION ENTRY: a stand-in image from public sample data; this person is not sought"

_EXAMPLES = ("small_celeb_examples", "face_recognition", "examples")
_SHARED_CLIP = ("videos", "face_recognition__short_hamilton_clip.mp4")
# The shared sample: one performer who appears in the clip, three people who do not.
_SHARED_PHOTOS = (
    ((*_EXAMPLES, "lin-manuel-miranda.png"), True),
    ((*_EXAMPLES, "biden.jpg"), False),
    ((*_EXAMPLES, "knn_examples", "train", "kit_harington", "john1.jpeg"), False),
    ((*_EXAMPLES, "knn_examples", "train", "rose_leslie", "img1.jpg"), False),
)


@dataclass(frozen=True)
class DemoSubject:
    """One demonstration watchlist entry: a neutral id, its reference photo, and whether it is in the clip."""

    subject_id: str
    image: Path
    image_source: str
    in_clip: bool
    category: str = DEMO_CATEGORY
    reason: str = DEMO_REASON


@dataclass(frozen=True)
class DemoSample:
    """What the demo enrols and plays."""

    kind: Literal["shared", "generated"]
    clip: Path
    subjects: tuple[DemoSubject, ...]
    description: str


def demo_subject_id(n: int) -> str:
    """The neutral id of the ``n``-th demo entry (1-based)."""
    return f"DEMO-{n:04d}"


def shared_sample(data: Path) -> DemoSample | None:
    """The richer sample from the shared face data folder, or None when any of its files is missing."""
    paths = [data.joinpath(*parts) for parts, _ in _SHARED_PHOTOS] + [data.joinpath(*_SHARED_CLIP)]
    if not all(p.is_file() for p in paths):
        return None
    subjects = tuple(
        DemoSubject(demo_subject_id(i), data.joinpath(*parts), "public library example photo", in_clip)
        for i, (parts, in_clip) in enumerate(_SHARED_PHOTOS, start=1)
    )
    return DemoSample(
        "shared",
        data.joinpath(*_SHARED_CLIP),
        subjects,
        f"shared sample data in {data}: a stage recording ({_SHARED_CLIP[-1]}) and four public photos",
    )


# --- the generated sample ------------------------------------------------------------------------------------


def astronaut() -> Image:
    """The NASA astronaut portrait shipped in scikit-image's wheel (BGR, 512x512)."""
    from skimage import data

    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


def bystanders() -> list[Image]:
    """Public-domain portraits of people on no watchlist: the US Navy portrait in matplotlib's sample data
    and scikit-image's CC0 cameraman (seen in profile)."""
    from matplotlib import cbook
    from skimage import data

    hopper = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)
    if hopper is None:  # pragma: no cover - matplotlib always ships it
        raise FileNotFoundError("matplotlib's sample image grace_hopper.jpg is missing")
    camera = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)
    # Head and shoulders only: the scene is a crowd, not a gallery of portraits.
    return [np.ascontiguousarray(hopper[40:480, 60:480]), np.ascontiguousarray(camera[40:330, 120:360])]


def reference_photo(image: Image) -> Image:
    """The enrolment photo: a tighter, offset crop of the portrait, warmer and darker than in the clip,
    at a different size (the clip never shows this exact picture)."""
    crop = image[20:250, 135:320].astype(np.float32)
    crop = 255.0 * (crop / 255.0) ** 1.25  # darker mid-tones
    crop *= np.array([0.86, 0.98, 1.10], np.float32)  # warm tint (BGR)
    out = np.clip(crop, 0, 255).astype(np.uint8)
    return np.asarray(cv2.resize(out, (370, 460), interpolation=cv2.INTER_CUBIC))


def _background(width: int, height: int, rng: np.random.Generator) -> Image:
    """A plain generated scene: a lit back wall, a floor, and some panels."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    wall = 70 + 90 * np.exp(-(((x - 0.5) / 0.45) ** 2)) * (1 - 0.4 * y)
    img = np.stack([wall * 0.9, wall * 0.95, wall * 1.05], axis=2)
    img[int(height * 0.78) :] *= 0.55
    for _ in range(14):
        x0, y0 = int(rng.uniform(0, width - 60)), int(rng.uniform(0, height * 0.7))
        w, h = int(rng.uniform(40, 160)), int(rng.uniform(30, 120))
        colour = rng.uniform(40, 200, size=3)
        img[y0 : y0 + h, x0 : x0 + w] = 0.5 * img[y0 : y0 + h, x0 : x0 + w] + 0.5 * colour
    return np.clip(img, 0, 255).astype(np.uint8)


@cache
def _soft_mask(h: int, w: int) -> npt.NDArray[np.float32]:
    """An elliptical alpha mask with a feathered edge, so pasted people have no hard rectangle round them
    (made once per sprite size; callers only read it)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    return np.clip((1.0 - r) / 0.25, 0.0, 1.0).astype(np.float32)


def _place(
    frame: npt.NDArray[np.float32],
    sprite: Image,
    centre: tuple[float, float],
    height_px: float,
    angle_deg: float = 0.0,
    turn: float = 0.0,
    gain: float = 1.0,
) -> None:
    """Draw ``sprite`` into ``frame`` (in place): scaled to ``height_px``, rotated in-plane by ``angle_deg``,
    with a perspective ``turn`` (-1..1: one side foreshortened, as when a head turns) and light ``gain``."""
    h, w = sprite.shape[:2]
    s = height_px / h
    hw, hh = w * s / 2, h * s / 2
    k = 1.0 - 0.25 * abs(turn)  # the far side shrinks vertically
    left, right = (k, 1.0) if turn > 0 else (1.0, k)
    squeeze = 1.0 - 0.12 * abs(turn)  # and the face narrows
    corners = np.array(
        [
            [-hw * squeeze, -hh * left],
            [hw * squeeze, -hh * right],
            [hw * squeeze, hh * right],
            [-hw * squeeze, hh * left],
        ],
        np.float32,
    )
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    dst = corners @ rot.T + np.array(centre, np.float32)
    # Only the sprite's bounding box in the frame is warped and blended (outside it the mask is 0): the same
    # picture as warping the whole frame, at a fraction of the work.
    x0, y0 = (max(0, math.floor(v) - 1) for v in dst.min(axis=0))
    x1 = min(frame.shape[1], math.ceil(float(dst[:, 0].max())) + 2)
    y1 = min(frame.shape[0], math.ceil(float(dst[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, (dst - np.array([x0, y0], np.float32)).astype(np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(sprite, m, size, flags=cv2.INTER_LINEAR).astype(np.float32) * gain
    alpha = cv2.warpPerspective(_soft_mask(h, w), m, size, flags=cv2.INTER_LINEAR)[..., None]
    roi = frame[y0:y1, x0:x1]
    roi *= 1.0 - alpha
    roi += alpha * warped


def render_frames(
    seconds: float = 4.0, fps: int = 25, width: int = 960, height: int = 540, seed: int = 7
) -> list[Image]:
    """The clip's frames (BGR): the astronaut crosses the scene, coming closer, tilting her head, turning
    slightly and walking from shadow into light, while two bystanders stay in view."""
    rng = np.random.default_rng(seed)
    subject = astronaut()[0:330, 90:390]  # head and shoulders
    hopper, cameraman = bystanders()
    background = _background(width, height, rng).astype(np.float32)
    n = max(2, round(seconds * fps))
    frames: list[Image] = []
    for i in range(n):
        t = i / (n - 1)
        light = 0.75 + 0.25 * math.sin(2 * math.pi * (t * 0.8))  # the stage lights change
        frame = background * np.float32(light)
        # Bystanders, farther away: drawn first.
        _place(frame, cameraman, (0.12 * width, 0.42 * height), 0.42 * height, gain=0.8 * light)
        _place(
            frame,
            hopper,
            ((0.86 - 0.04 * t) * width, 0.40 * height),
            0.48 * height,
            angle_deg=3 * math.sin(2 * math.pi * t),
            gain=light,
        )
        # The watchlisted stand-in: from far left in shadow to near centre in full light.
        _place(
            frame,
            subject,
            ((0.28 + 0.34 * t) * width, (0.42 + 0.06 * t) * height),
            (0.36 + 0.36 * t) * height,
            angle_deg=9 * math.sin(2 * math.pi * 1.2 * t),
            turn=0.6 * math.sin(2 * math.pi * 0.7 * t),
            gain=0.55 + 0.6 * t,
        )
        frame += rng.normal(0, 3.0, frame.shape).astype(np.float32)  # sensor noise
        frames.append(np.clip(frame, 0, 255, out=frame).astype(np.uint8))
    return frames


def write_clip(path: Path, frames: list[Image], fps: int) -> Path:
    """Encode ``frames`` as an MP4 at ``fps``: H.264 with PyAV's bundled encoder, MPEG-4 part 2 where a
    PyAV build has no libx264."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    h264 = "libx264" in av.codecs_available
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if h264 else "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"} if h264 else {"qscale": "3"}
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def generated_sample(folder: Path, *, seconds: float = 4.0, fps: int = 25) -> DemoSample:
    """Build the public-domain sample into ``folder``: ``reference-DEMO-0001.png`` and ``clip.mp4``."""
    folder.mkdir(parents=True, exist_ok=True)
    reference = folder / f"reference-{demo_subject_id(1)}.png"
    if not cv2.imwrite(str(reference), reference_photo(astronaut())):
        raise OSError(f"could not write {reference}")
    clip = write_clip(folder / "clip.mp4", render_frames(seconds, fps), fps)
    subject = DemoSubject(
        demo_subject_id(1),
        reference,
        "public-domain NASA portrait (scikit-image sample data), cropped and relit",
        in_clip=True,
    )
    return DemoSample(
        "generated",
        clip,
        (subject,),
        f"generated sample in {folder}: {seconds:g} s at {fps} fps from public-domain portraits "
        "(one stand-in on the watchlist, two bystanders who are on none)",
    )
