"""The benchmark target: ONNX Runtime running ``model.onnx`` (from make_model.py) on one batch.

``load`` is the suite's ``setup``: it opens the session once per worker process, so
the measured calls are only ``predict``, one ``session.run`` each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

MODEL = Path(__file__).resolve().parent / "model.onnx"


def load() -> onnxruntime.InferenceSession:
    """The inference session, on the CPU.

    One intra-op thread unless ``ORT_INTRA_OP_THREADS`` says otherwise: a model this small
    runs no faster on more, and a thread pool spinning on a shared CI runner only adds noise.
    """
    if not MODEL.is_file():
        raise FileNotFoundError(f"{MODEL} not found: run make_model.py first")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("ORT_INTRA_OP_THREADS", "1"))
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])


def predict(session: onnxruntime.InferenceSession, batch: np.ndarray) -> Any:
    """Labels and class probabilities of one batch of rows (float32, [batch, 4])."""
    return session.run(None, {"float_input": batch})
