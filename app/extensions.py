"""The per-app services the blueprints share, kept in `app.extensions`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from flask import current_app

from app.algorithms.base import Algorithm
from app.config import Settings
from app.jobs.service import JobService
from app.observability.metrics import Metrics
from app.web.limits import InvokeSlots

EXTENSION_KEY = "functional_scaffold"


@dataclass
class Scaffold:
    settings: Settings
    metrics: Metrics
    algorithms: Mapping[str, Algorithm]
    jobs: JobService
    invoke_slots: InvokeSlots
    # name -> check; /readyz is ready when every check returns True.
    readiness_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)


def scaffold() -> Scaffold:
    return current_app.extensions[EXTENSION_KEY]
