"""The per-app services the blueprints share, kept in `app.extensions`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from flask import current_app

from app.algorithms.base import Algorithm
from app.config import Settings
from app.web.errors import ApiError
from app.observability.metrics import Metrics

if TYPE_CHECKING:  # both import the web layer, which imports this module
    from app.jobs.service import JobService
    from app.web.limits import InvokeSlots

EXTENSION_KEY = "functional_scaffold"


@dataclass
class Scaffold:
    settings: Settings
    metrics: Metrics
    algorithms: Mapping[str, Algorithm]
    # name -> check; /readyz is ready when every check returns True.
    readiness_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    jobs: JobService | None = None
    invoke_slots: InvokeSlots | None = None

    def algorithm(self, name: str) -> Algorithm:
        """The named algorithm, or the documented 404 listing what exists."""
        try:
            return self.algorithms[name]
        except KeyError:
            raise ApiError(
                404,
                "ALGORITHM_NOT_FOUND",
                f"算法 '{name[:100]}' 不存在",
                {"available_algorithms": sorted(self.algorithms)},
            ) from None


def scaffold() -> Scaffold:
    return current_app.extensions[EXTENSION_KEY]
