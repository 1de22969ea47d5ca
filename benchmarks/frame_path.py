"""The files of ``openlfr/live`` a frame's code enters, in order: how far a reader following one frame
through ``CameraWorker.process`` travels (issue 28, item 3: each file at most twice).

A still photo of a watchlisted person is run through a real camera worker (default pack, in-memory
deployment) for three frames: the first searches him, the second confirms and alerts, the third only tracks.
Every call into a function of ``openlfr/live`` is recorded by its file, consecutive calls into the same file
as one stop. Left out, as no place a reader goes: the stage clock (instrumentation), ``Frame``'s
attribute-like properties and generated ``__init__`` methods, comprehensions and lambdas (the enclosing
function going on), and the gateway (governance's side of the contract).

    .venv/bin/python benchmarks/frame_path.py [--src OTHER_CHECKOUT/src]   # --src: measure another commit
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from _common import data_dir

SKIPPED = {
    "lap",
    "restart",
    "stage_time",
    "__init__",
    "shape",
    "converted",
    "image",
    "__len__",
    "__post_init__",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=None, help="Measure the openlfr package under this folder.")
    a = ap.parse_args()
    if a.src is not None:
        sys.path.insert(0, str(a.src.resolve()))
    from openlfr.config import LiveSettings, Settings
    from openlfr.live import pipeline
    from openlfr.live.memory_gateway import InMemoryGateway
    from openlfr.live.sources import Frame, parse_source
    from openlfr.vision import load_engine, load_image

    live_dir = str(Path(pipeline.__file__).parent) + "/"
    print(f"openlfr.live from {live_dir}")
    examples = data_dir() / "small_celeb_examples" / "face_recognition" / "examples"
    folder = Path(tempfile.mkdtemp())
    for name, file in (("lin_manuel_miranda", "lin-manuel-miranda.png"), ("biden", "biden.jpg")):
        shutil.copy(examples / file, folder / f"{name}{Path(file).suffix}")
    engine = load_engine("opencv-zoo", Settings())
    live = LiveSettings(min_hits=2, cooldown_seconds=0.0, confirm_every_frames=1)
    settings = Settings().model_copy(update={"live": live})
    gateway = InMemoryGateway.from_folder(folder, engine, threshold=0.4)
    gateway.allow_camera("cam")
    worker = pipeline.CameraWorker(
        parse_source("cam=/dev/null"), gateway, settings, engine=engine, paced=False
    )
    image = load_image(examples / "lin-manuel-miranda.png")
    stops: list[str] = []
    for i in range(3):
        frame = Frame(image, i, i / 25, datetime.now(UTC), captured_mono=0.0)
        frame.prepare(worker.working_width)
        stops.clear()

        def record(fr: FrameType, event: str, arg: Any) -> None:
            file, name = fr.f_code.co_filename, fr.f_code.co_name
            if event != "call" or not file.startswith(live_dir) or file.endswith("gateway.py"):
                return
            if name in SKIPPED or name.startswith("<"):
                return
            module = file[len(live_dir) :]
            if not stops or stops[-1] != module:
                stops.append(module)

        searches = worker.metrics.searches
        sys.setprofile(record)
        raised = worker.process(frame)
        sys.setprofile(None)
        visits = Counter(stops)
        print(
            f"frame {i} ({worker.metrics.searches - searches} searched, {len(raised)} alert(s)): "
            f"{len(stops)} stops, at most {max(visits.values())} in one file: {' -> '.join(stops)}"
        )


if __name__ == "__main__":
    main()
