"""Train the example model and write it with its fixed dataset: ``model.onnx`` and ``data/iris.npy``.

    python make_model.py [--out DIR]        # DIR defaults to this script's folder

The model is a scikit-learn random forest (50 trees, depth 6, seed 0) fitted on the iris
data set that scikit-learn ships (150 rows of 4 float features: nothing is downloaded),
converted to ONNX by skl2onnx with one FP32 input ``float_input`` of shape [batch, 4] and
two outputs, ``label`` (INT64, [batch]) and ``probabilities`` (FP32, [batch, 3]). The
dataset is the same 150 rows as float32, what the model takes. The script checks that
ONNX Runtime predicts what scikit-learn does before it writes anything.

Run at image build time (see the Dockerfile), so the model is made by the image's own
scikit-learn, skl2onnx and ONNX Runtime.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

INPUT_NAME = "float_input"
#: opsets every ONNX Runtime of the last years runs (skl2onnx would pick its newest)
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def build(out: Path) -> tuple[Path, Path]:
    """Fit, convert, check and write the model and dataset into ``out``; their paths."""
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    features = features.astype(np.float32)
    forest = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0).fit(features, labels)
    onnx_model = convert_sklearn(forest, initial_types=[(INPUT_NAME, FloatTensorType([None, 4]))],
                                 options={id(forest): {"zipmap": False}}, target_opset=TARGET_OPSET)
    model_bytes = onnx_model.SerializeToString()

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    predicted, _ = session.run(None, {INPUT_NAME: features})
    if not np.array_equal(predicted, forest.predict(features)):
        raise SystemExit("ONNX Runtime's predictions differ from scikit-learn's: not writing the model")

    (out / "data").mkdir(parents=True, exist_ok=True)
    model_path, data_path = out / "model.onnx", out / "data" / "iris.npy"
    _write_atomically(model_path, model_bytes)
    with open(f"{data_path}.tmp", "wb") as handle:
        np.save(handle, features)
    os.replace(f"{data_path}.tmp", data_path)
    accuracy = float((predicted == labels).mean())
    print(f"wrote {model_path} ({len(model_bytes)} bytes, training accuracy {accuracy:.3f}) and "
          f"{data_path} ({features.shape[0]} rows of {features.shape[1]} float32)", file=sys.stderr)
    return model_path, data_path


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the iris random forest and write model.onnx and "
                                                 "data/iris.npy.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write into (default: this script's folder)")
    build(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
