"""Regenerate data/inputs.npy, the fixed dataset of the default suite (run once; committed)."""

from pathlib import Path

import numpy as np

ROWS, FEATURES, SEED = 512, 256, 42

if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    inputs = rng.standard_normal((ROWS, FEATURES)).astype(np.float32)
    np.save(Path(__file__).parent / "data" / "inputs.npy", inputs)
