"""Export a fitted skcifar classifier (or a Pipeline ending in one) as ONNX or a SavedModel.

The graph takes what the estimator takes (uint8 images when a
:class:`~skcifar.PixelScaler` leads) and returns what ``predict_proba``
returns: the scaling, then the classifier's public ``inference_function()``
(the network, and any test-time augmentation and temperature), traced for its
current parameter values.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os

import numpy as np

from ..utils.atomic import atomic_directory, atomic_output
from ..utils.versions import library_versions
from ._targets import SAVEDMODEL_METADATA, check_export_target

FORMATS = ("onnx", "savedmodel")
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
_UNFITTED = "{} (%(name)s) is not fitted yet: fit it before exporting it."


def export(estimator, path, format="onnx", *, opset=None):
    """Export a fitted skcifar classifier (or a Pipeline ending in one) as ONNX or a SavedModel.

    The exported graph holds every step: the pipeline's
    :class:`~skcifar.PixelScaler` (so it takes the raw pixels, uint8), then
    what the classifier's ``inference_function()`` computes: the network,
    and for :class:`~skcifar.ResNetClassifier` the test-time augmentation
    (``tta``, ``tta_shift``) and ``temperature`` as they are set now. Its
    output ``"probabilities"`` equals the estimator's ``predict_proba``
    (within 1e-4 in float32). Loading it needs neither skcifar nor pickle:
    ONNX Runtime reads the ``.onnx`` file and ``tf.saved_model.load`` the
    SavedModel directory.

    Parameters
    ----------
    estimator : skcifar classifier or Pipeline
        A fitted skcifar classifier, or a Pipeline ending in one; before it,
        the Pipeline may hold one PixelScaler and ``"passthrough"`` steps.
    path : str or os.PathLike
        For ``"onnx"`` a file (conventionally ``.onnx``), for
        ``"savedmodel"`` a directory. Its parent directory must exist. An
        existing ``path`` is replaced only if skcifar exported it (an ONNX
        file with skcifar's metadata; a SavedModel directory holding
        ``assets.extra/skcifar.json`` and nothing else the export did not
        write) or it is empty, and keeps its permissions. It is written beside
        the destination and renamed into place, so a failed export leaves
        ``path`` as it was.
    format : {"onnx", "savedmodel"}, default="onnx"
        ``"onnx"`` converts the graph with tf2onnx (``pip install
        'skcifar[export]'``); a network that computes in bfloat16 is
        exported computing in float32, since ONNX Runtime has no bfloat16
        convolutions on the CPU. ``"savedmodel"`` writes TensorFlow's format
        through Keras' ``ExportArchive``, with one endpoint ``serve``.
    opset : int or None, default=None
        ONNX opset (``"onnx"`` only); None: tf2onnx's default.

    Returns
    -------
    metadata : dict
        What the export recorded beside the graph: ``classes`` (the labels),
        ``class_names``, the ``input`` name, dtype and shape, the ``output``
        name, the ``steps`` and the versions. An ONNX file holds each entry
        JSON-encoded in its metadata properties, a SavedModel in
        ``assets.extra/skcifar.json``.

    Raises
    ------
    ValueError
        If ``format`` is unknown, ``opset`` is given for a SavedModel, or
        something skcifar did not write is at ``path`` (a directory or file
        of the user's, a symbolic link): it is left as it is; choose another
        path or remove it yourself.
    OSError
        If ``path`` cannot be written, e.g. ``FileNotFoundError`` when its
        directory does not exist; the message names ``path``.
    TypeError
        If the estimator, or a pipeline step, cannot be exported: the
        message names the step.
    ImportError
        If TensorFlow is not installed (both formats are written by it): the
        message names the extra that installs it.
    RuntimeError
        If Keras runs on another backend than TensorFlow in this process:
        save the model, and export it in a process with
        ``KERAS_BACKEND=tensorflow``.
    NotFittedError
        If the classifier or a PixelScaler step is not fitted.
    ImportError
        If the converter for ``"onnx"`` (tf2onnx, onnx) is not installed.

    See Also
    --------
    save : the lossless, re-trainable ``.skcifar`` file.

    Examples
    --------
    >>> import skcifar
    >>> skcifar.export(pipeline, "cnn.onnx", format="onnx")  # doctest: +SKIP
    >>> import onnxruntime  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("cnn.onnx")  # doctest: +SKIP
    >>> session.run(["probabilities"], {"images": X_test[:5]})[0]  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; choose one of {FORMATS}.")
    if opset is not None and format != "onnx":
        raise ValueError(f"opset applies to the 'onnx' format only, not {format!r}.")
    from ..utils.backend import require_tensorflow_backend

    require_tensorflow_backend(f"skcifar.export(format={format!r})")
    scaler, classifier, steps = _exported_steps(estimator)
    input_shape = tuple(int(s) for s in (scaler or classifier).input_shape_)
    dtype = "float32" if scaler is None else "uint8"
    info = _metadata(classifier, steps, input_shape, dtype, format)
    path = check_export_target(path, format)  # before any work: nothing of the user's is lost

    from ..architectures import float32_network
    from ..utils.backend import configure_threads, import_keras, import_tensorflow, quiet

    configure_threads()
    tf = import_tensorflow()
    with quiet():
        network = classifier.model_
        if format == "onnx":
            converter = _import_converter()  # before anything is written
            network = float32_network(network)
        spec = tf.TensorSpec((None, *input_shape), getattr(tf, dtype), name=INPUT_NAME)

        table = _pixel_table(scaler).reshape(-1) if scaler else None
        n_features = int(np.prod(input_shape))
        probabilities = classifier.inference_function(network)

        def serve(inputs):
            if scaler is None:
                images = tf.cast(inputs, tf.float32)
            else:  # the pixel at position i with level v becomes table[v * n_features + i]
                levels = tf.reshape(tf.cast(inputs, tf.int32), (-1, n_features))
                images = tf.gather(table, levels * n_features + tf.range(n_features))
            images = tf.reshape(images, (-1, *classifier.image_shape_))
            return {OUTPUT_NAME: probabilities(images)}

        if format == "onnx":
            function = tf.function(serve, input_signature=[spec])
            _write_onnx(converter, function, spec, path, info, opset)
        else:
            _write_savedmodel(import_keras(), network, serve, spec, path, info)
    return info


def _exported_steps(estimator):
    """``(scaler or None, classifier, step_names)`` of what the graph computes, validated."""
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from ..preprocessing import PixelScaler

    in_pipeline = isinstance(estimator, Pipeline)
    steps = list(estimator.steps) if in_pipeline else [(type(estimator).__name__, estimator)]
    *front, (name, classifier) = steps
    if not callable(getattr(classifier, "inference_function", None)):
        where = f"the last pipeline step {name!r}" if in_pipeline else "the estimator"
        raise TypeError(
            f"Cannot export {where} ({type(classifier).__name__}): the exported graph ends in "
            "a skcifar classifier (one with an inference_function method, such as "
            "CNNClassifier)."
        )
    scaler = None
    for step_name, step in front:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if not isinstance(step, PixelScaler) or scaler is not None:
            raise TypeError(
                f"Cannot export the pipeline step {step_name!r} ({type(step).__name__}): only "
                "one PixelScaler and 'passthrough' steps can come before the classifier in an "
                "exported graph. Apply that step to the images before the exported model, or "
                "leave it out of the pipeline."
            )
        check_is_fitted(step, msg=_UNFITTED.format(f"The pipeline step {step_name!r}"))
        scaler = step
    where = f"The pipeline step {name!r}" if in_pipeline else "This estimator"
    check_is_fitted(classifier, msg=_UNFITTED.format(where))
    return scaler, classifier, [step_name for step_name, _ in steps]


def _pixel_table(scaler):
    """``scaler.transform`` of each of the 256 pixel levels at each input position, float32.

    Row ``level`` of the ``(256, n_features)`` result is what the scaler makes
    of an input filled with ``level``; the graph looks each pixel up in it, so
    it reproduces the transform exactly (float16 rounding included, which
    ONNX converters may fold away from a pair of casts) from the scaler's own
    code.
    """
    shape = tuple(int(s) for s in scaler.input_shape_)
    levels = np.arange(256, dtype=np.uint8).reshape(256, *[1] * len(shape))
    scaled = np.asarray(scaler.transform(np.broadcast_to(levels, (256, *shape))))
    return scaled.astype(np.float32).reshape(256, -1)


def _metadata(classifier, steps, input_shape, dtype, format):
    from ..datasets import display_names

    classes = [c.item() if hasattr(c, "item") else c for c in classifier.classes_]
    names = ("keras", "tensorflow", "tf2onnx") if format == "onnx" else ("keras",)
    versions = {k: v for k, v in library_versions(*names).items() if v is not None}
    return {
        "format": format,
        "classes": classes,
        "class_names": display_names(classifier.classes_),
        "input": {"name": INPUT_NAME, "dtype": dtype, "shape": [None, *input_shape]},
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, len(classes)]},
        "steps": steps,
        "classifier": type(classifier).__name__,
        "versions": versions,
    }


def _import_converter():
    """``tf2onnx`` and ``onnx``, or an ImportError naming the extra to install."""
    try:
        with _quiet_loggers():
            return importlib.import_module("tf2onnx"), importlib.import_module("onnx")
    except ImportError as exc:
        raise ImportError(
            f"Exporting to ONNX needs tf2onnx and onnx ({exc}); install them with "
            "pip install 'skcifar[export]'."
        ) from exc


@contextlib.contextmanager
def _quiet_loggers():
    """tf2onnx's INFO/WARNING chatter off for the block; the levels restored after."""
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "onnx")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _write_onnx(converter, function, spec, path, info, opset):
    tf2onnx, onnx = converter
    with _quiet_loggers(), contextlib.redirect_stdout(io.StringIO()):
        model, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=opset)
    onnx.helper.set_model_props(model, {key: json.dumps(value) for key, value in info.items()})
    check_export_target(path, "onnx")  # again: the conversion took a while
    with atomic_output(path) as file:
        file.write(model.SerializeToString())


def _write_savedmodel(keras, network, serve, spec, path, info):
    with atomic_directory(path) as directory:
        archive = keras.export.ExportArchive()
        archive.track(network)
        archive.add_endpoint("serve", serve, input_signature=[spec])
        with contextlib.redirect_stdout(io.StringIO()):  # "Saved artifact at ..."
            archive.write_out(directory)
        os.makedirs(os.path.dirname(os.path.join(directory, SAVEDMODEL_METADATA)), exist_ok=True)
        with open(os.path.join(directory, SAVEDMODEL_METADATA), "w", encoding="utf-8") as file:
            json.dump(info, file, indent=1)
        check_export_target(path, "savedmodel")  # again: the export took a while
