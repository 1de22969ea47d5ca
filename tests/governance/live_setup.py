"""An open deployment with a real two-subject watchlist, inside its window, and its gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.deployments import DeploymentInfo
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.governance.watchlists import enrol_subject
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.store import Store
from tests.authorisers import authoriser
from tests.governance.faces import entry, lfw_people


@dataclass
class Live:
    store: Store
    deployment: DeploymentInfo
    gateway: DeploymentGateway
    clock: Any
    people: list[str]
    index: WatchlistIndex

    def alert(self, subject: int = 0, **kw: Any) -> str:
        """Search a real probe (the subject's second photo) and raise the alert the live pipeline would."""
        embedding = kw.pop("embedding", None)
        probe_path = lfw_people()[subject][1][1]
        if embedding is None:
            from openlfr.governance.watchlists import analyse_reference

            face = analyse_reference(self.gateway_engine(), probe_path.read_bytes(), "probe", self.store)
            embedding = face.embedding
        best = self.index.search(embedding, k=1)[0][0]
        args: dict[str, Any] = {
            "camera_id": "cam-1",
            "track_id": "t1",
            "subject_id": best.subject_id,
            "template_index": best.template_index,
            "score": max(best.score, self.deployment.threshold),
            "threshold": self.deployment.threshold,
            "probe_crop": probe_path.read_bytes(),
            "frame_crop": probe_path.read_bytes() + b"scene",
            "observed_at": self.clock(),
        }
        args.update(kw)
        return self.gateway.raise_alert(**args)

    def gateway_engine(self):  # type: ignore[no-untyped-def]
        from openlfr.vision import load_engine

        return load_engine(self.deployment.pack, self.store.settings)


def make_live(store: Store, make_deployment: Any, clock: Any) -> Live:
    dep = make_deployment(threshold=0.40)
    people = lfw_people()[:2]
    for person, imgs in people:
        enrol_subject(store, "enroller", dep.id, entry(person, clock()), [imgs[0]], clock=clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    dep = open_deployment(store, authoriser(store), dep.id, clock=clock)
    clock.advance(hours=1, minutes=10)  # now inside the window
    gateway = DeploymentGateway(store, dep.id, store.settings, clock=clock)
    index, _ = gateway.watchlist()  # once, as the live pipeline does at start
    return Live(store, dep, gateway, clock, [p for p, _ in people], index)
