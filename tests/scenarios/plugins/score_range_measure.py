"""A test plugin: a new measure in one file, registered by the decorator alone."""

import numpy as np
from pydantic import BaseModel, ConfigDict

from choicelab.scenarios import measures


class ScoreRangeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: float = 1.0


@measures.register("test_score_range", params=ScoreRangeOptions)
def score_range(ctx):
    """scale * (max score - min score) of the fit."""
    s = np.asarray(ctx.output.scores, dtype=float)
    yield measures.Row("range", "max - min", ctx.params.scale * float(s.max() - s.min()))
