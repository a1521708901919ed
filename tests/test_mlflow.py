"""MLflow's sklearn flavour in its default (skops) format: save or log, load in a new process."""

import numpy as np
import pytest
from _processes import run_python
from _synthetic import make_images
from sklearn.pipeline import make_pipeline

from skcifar import PixelScaler, ResNetClassifier
from skcifar.persistence import SKOPS_TRUSTED_TYPES

pytest.importorskip("skops.io")
pytest.importorskip("mlflow.sklearn")
mlflow = pytest.importorskip("mlflow")
yaml = pytest.importorskip("yaml")  # an MLflow requirement

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

LABELS = np.array(["airplane", "bird", "cat"])

_LOAD = """
import sys
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np

X = np.load(sys.argv[2])
np.save(sys.argv[3], mlflow.sklearn.load_model(sys.argv[1]).predict_proba(X))
np.save(sys.argv[4], np.asarray(mlflow.pyfunc.load_model(sys.argv[1]).predict(X), str))
"""


@pytest.fixture(scope="module")
def data():
    return make_images(n=60)


@pytest.fixture(scope="module")
def pipeline(data):
    X, y = data
    return make_pipeline(
        PixelScaler(standardize=True),
        ResNetClassifier(widths=(4,), stem_filters=4, epochs=1, batch_size=16, random_state=0),
    ).fit(X, LABELS[y])


def load_in_fresh_process(uri, X, tmp_path, env=None):
    """``(predict_proba, pyfunc predict)`` of the model at ``uri``, loaded by a new process."""
    files = [str(tmp_path / name) for name in ("X.npy", "p.npy", "l.npy")]
    np.save(files[0], X)
    run_python(_LOAD, uri, *files, env=env)
    return np.load(files[1]), np.load(files[2])


def test_save_model_in_skops_format_loads_in_a_fresh_process(pipeline, data, tmp_path):
    X, _ = data
    path = tmp_path / "model"
    mlflow.sklearn.save_model(pipeline, path, skops_trusted_types=SKOPS_TRUSTED_TYPES)
    flavour = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavour["serialization_format"] == "skops"  # MLflow's default
    proba, labels = load_in_fresh_process(str(path), X, tmp_path)
    # Exact: same weights and batches on the same CPU with the same settings (inherited).
    np.testing.assert_array_equal(proba, pipeline.predict_proba(X))
    # The pyfunc flavour takes the uint8 images as they are and returns the labels.
    assert X.dtype == np.uint8
    np.testing.assert_array_equal(labels, pipeline.predict(X).astype(str))


def test_log_model_loads_in_a_fresh_process(pipeline, data, tmp_path, monkeypatch):
    X, _ = data
    # A local file store: MLflow 3.18 asks for MLFLOW_ALLOW_FILE_STORE to use one.
    env = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            pipeline, name="model", skops_trusted_types=SKOPS_TRUSTED_TYPES
        )
    proba, _ = load_in_fresh_process(info.model_uri, X, tmp_path, env)
    # Exact: as above.
    np.testing.assert_array_equal(proba, pipeline.predict_proba(X))
