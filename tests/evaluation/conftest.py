"""One small real evaluation (first LFW people, first crowd faces, real opencv-zoo model), shared by the
evaluation tests so the images are embedded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlfr.config import Settings
from openlfr.evaluation.runner import EvaluationOutcome, run_evaluation
from tests.conftest import require_data

SUBSET = {"max_lfw_people": 70, "max_crowd": 120}


@pytest.fixture(scope="session")
def eval_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = require_data("lfw", "manifest.csv").parents[1]
    return Settings(data_dir=tmp_path_factory.mktemp("openlfr-eval"), OPENLFR_DATA=str(data))


@pytest.fixture(scope="session")
def small_evaluation(eval_settings: Settings) -> EvaluationOutcome:
    return run_evaluation(
        eval_settings,
        ["opencv-zoo"],
        eval_settings.data_dir / "report",
        calibration_dir=eval_settings.data_dir / "calibration",
        command="pytest",
        **SUBSET,  # type: ignore[arg-type]
    )


@pytest.fixture
def report_dir(small_evaluation: EvaluationOutcome) -> Path:
    return small_evaluation.report_path.parent
