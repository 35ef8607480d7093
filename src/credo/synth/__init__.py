"""Synthetic bureau: furnishing files from a documented generative story with a latent risk.

``generate(out_dir, subjects=..., seed=..., as_of=...)`` writes one furnishing file per
institution in the Credo furnishing format v1, a corrections batch, ``defects.jsonl`` (every
deliberately broken row), ``truth.csv`` (each subject's latent risk and outcome) and
``manifest.json``. The story and the defect kinds are described in ``docs/synthetic.md``.
"""

from credo.synth.defects import DEFECT_KINDS
from credo.synth.generator import FileInfo, Manifest, generate
from credo.synth.world import StoryParams

__all__ = ["DEFECT_KINDS", "FileInfo", "Manifest", "StoryParams", "generate"]
