"""The default workload: a small multilayer perceptron in numpy with fixed, seeded weights.

It stands for "a model": a few dense layers with ReLU and a softmax, run on batches of
the fixed dataset in ``data/inputs.npy``. Weights come from a fixed seed, so every run,
on every machine, computes exactly the same thing.
"""

from __future__ import annotations

import numpy as np

LAYERS = (256, 512, 512, 10)
SEED = 1234


def load() -> list[tuple[np.ndarray, np.ndarray]]:
    """Build the model: (weights, bias) per layer, float32, from a fixed seed."""
    rng = np.random.default_rng(SEED)
    model = []
    for fan_in, fan_out in zip(LAYERS, LAYERS[1:]):
        weights = rng.standard_normal((fan_in, fan_out)).astype(np.float32) / np.sqrt(fan_in)
        model.append((weights, np.zeros(fan_out, dtype=np.float32)))
    return model


def predict(model: list[tuple[np.ndarray, np.ndarray]], batch: np.ndarray) -> np.ndarray:
    """Class probabilities for one batch of inputs (rows of 256 features)."""
    x = batch
    for weights, bias in model[:-1]:
        x = np.maximum(x @ weights + bias, 0.0)
    weights, bias = model[-1]
    logits = x @ weights + bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
