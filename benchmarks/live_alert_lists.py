"""The live pipeline's alert lists and counters on the recorded clips, to compare two commits (issue 28:
the same alerts before and after a change to the pipeline).

As the live tests set it up: the default pack, threshold 0.4, a watchlist of Lin-Manuel Miranda and four
people who are not in the clips, frames as fast as possible (nothing dropped or shed, so the lists depend
on the code alone). For each clip and policy setting it prints one JSON line: the alerts (subject, track,
media time, score) and the counters the deployment received.

    .venv/bin/python benchmarks/live_alert_lists.py [--src OTHER_CHECKOUT/src] > after.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import data_dir

SETTINGS = ((0.0, 2), (60.0, 2), (0.0, 1))
"""(cooldown_seconds, min_hits) of each run."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=None, help="Run the openlfr package under this folder.")
    a = ap.parse_args()
    if a.src is not None:
        sys.path.insert(0, str(a.src.resolve()))
    from openlfr.config import LiveSettings, Settings
    from openlfr.live.memory_gateway import InMemoryGateway
    from openlfr.live.pipeline import LivePipeline
    from openlfr.live.sources import parse_source
    from openlfr.vision import load_engine

    data = data_dir()
    examples = data / "small_celeb_examples" / "face_recognition" / "examples"
    subjects = {
        "lin_manuel_miranda": examples / "lin-manuel-miranda.png",
        "biden": examples / "biden.jpg",
        "kit_harington": examples / "knn_examples" / "train" / "kit_harington" / "john1.jpeg",
        "rose_leslie": examples / "knn_examples" / "train" / "rose_leslie" / "img1.jpg",
        "alex_lacamoire": examples / "knn_examples" / "train" / "alex_lacamoire" / "img1.jpg",
    }
    folder = Path(tempfile.mkdtemp()) / "watchlist"
    folder.mkdir()
    for name, src in subjects.items():
        shutil.copy(src, folder / f"{name}{src.suffix}")
    engine = load_engine("opencv-zoo", Settings())
    keys = (
        "frames_processed",
        "faces_seen",
        "tracks",
        "searches",
        "embeds_shed",
        "alerts",
        "alerts_suppressed",
    )
    for clip in ("face_recognition__short_hamilton_clip.mp4", "facenet_pytorch__video.mp4"):
        for cooldown, min_hits in SETTINGS:
            live = LiveSettings(cooldown_seconds=cooldown, min_hits=min_hits)
            settings = Settings().model_copy(update={"live": live})
            gateway = InMemoryGateway.from_folder(folder, engine, threshold=0.4)
            spec = parse_source(f"stage={data / 'videos' / clip}")
            gateway.allow_camera(spec.camera_id)
            result = LivePipeline([spec], gateway, settings, paced=False, engine_factory=lambda: engine).run()
            m = result.metrics[0]
            row = {
                "clip": clip,
                "cooldown_s": cooldown,
                "min_hits": min_hits,
                "alerts": [
                    (x.subject_id, x.track_id, round(x.media_s, 3), round(x.score, 5)) for x in result.alerts
                ],
                "metrics": {k: m[k] for k in keys},
                "deployment_counters": gateway.counters,
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
