"""Live facial recognition (LFR): sources, tracker, pipeline stages with back-pressure, alert policy.

The pipeline is handed a deployment through a :class:`~openlfr.live.gateway.LiveGateway` (the governance
layer's ``DeploymentGateway``, or :class:`~openlfr.live.memory_gateway.InMemoryGateway` for dry runs) and
never reaches into storage itself.
"""

from openlfr.live.gateway import DeploymentView, LiveGateway, ScanRefused
from openlfr.live.metrics import SourceMetrics
from openlfr.live.pipeline import CameraWorker, LivePipeline, PipelineResult
from openlfr.live.sources import Frame, FrameSource, SourceError, SourceSpec, parse_source

__all__ = [
    "CameraWorker",
    "DeploymentView",
    "Frame",
    "FrameSource",
    "LiveGateway",
    "LivePipeline",
    "PipelineResult",
    "ScanRefused",
    "SourceError",
    "SourceMetrics",
    "SourceSpec",
    "parse_source",
]
