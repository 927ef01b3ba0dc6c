"""Where a study's files live: the study folder (each dataset's raw folder:
:func:`kdseg.data.study_data.raw_root`)."""

from __future__ import annotations

from typing import Any


def study_dir(config: dict[str, Any]) -> str:
    """``<results_dir>/<study>``."""
    return f"{config['results_dir']}/{config['study']}"
