"""A calibration folder as data: the posterior a hindcast, a scenario or a sweep can use, and the
stamp that says which model, history and cutoff it was fitted to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.priors import PRIORS
from model import MODEL_VERSION
from model.errors import BadInput

POSTERIOR = "posterior.csv"
META = "calibration.json"


class CalibrationError(BadInput, ValueError):
    """A calibration folder that cannot be used: one line."""


@dataclass(frozen=True)
class Calibration:
    folder: Path
    particles: pd.DataFrame  # one column per parameter path, and weight
    meta: dict[str, Any]

    @property
    def fit_until(self) -> int:
        return int(self.meta["fit_until"])

    @property
    def scenario(self) -> str:
        """The historical start it was fitted on, as given to `calibrate` (a name or a path)."""
        return str(self.meta.get("scenario_source", self.meta["scenario"]))


def read_calibration(folder: str | Path) -> Calibration:
    """The posterior in `folder`, refused in one line if it is missing, malformed or from another model."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"--calibration {folder}: not a folder (run `run.py calibrate --out {folder}` first)")
    try:
        meta = json.loads((folder / META).read_text())
    except FileNotFoundError:
        raise CalibrationError(f"--calibration {folder}: no {META}; not a calibration folder") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"--calibration {folder}: cannot read {META} ({exc})") from None
    if not isinstance(meta, dict) or "fit_until" not in meta or "scenario" not in meta:
        raise CalibrationError(f"--calibration {folder}: {META} is not a calibration's record")
    version = meta.get("model_version")
    if version != MODEL_VERSION:
        raise CalibrationError(f"--calibration {folder}: fitted with model version {version!r}, this is {MODEL_VERSION!r}; "
                               f"calibrate again")
    try:
        particles = pd.read_csv(folder / POSTERIOR)
    except FileNotFoundError:
        raise CalibrationError(f"--calibration {folder}: no {POSTERIOR}") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CalibrationError(f"--calibration {folder}: cannot read {POSTERIOR} ({exc})") from None
    wanted = [p.path for p in PRIORS]
    if list(particles.columns) != [*wanted, "weight"]:
        raise CalibrationError(f"--calibration {folder}: {POSTERIOR} has columns {', '.join(map(str, particles.columns))}; "
                               f"this model calibrates {', '.join(wanted)} (and weight)")
    particles = particles.apply(pd.to_numeric, errors="coerce")
    values = particles.to_numpy(dtype=float)
    if len(particles) == 0 or not np.isfinite(values).all() or (particles["weight"] < 0).any() or particles["weight"].sum() <= 0:
        raise CalibrationError(f"--calibration {folder}: {POSTERIOR} holds no usable particles (empty, non-numeric or "
                               f"without positive weights)")
    return Calibration(folder, particles, meta)
