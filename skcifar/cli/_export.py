"""``skcifar export``: a saved pipeline as an ONNX file or a TensorFlow SavedModel."""

from __future__ import annotations

import os

from ._common import UsageError, describe, load_model


def export(args):
    """Export MODEL to PATH in ``--format`` and print what the graph takes and returns."""
    from skcifar.persistence import export as export_model

    model = load_model(args.model, allow_pickle=args.allow_pickle)
    try:
        info = export_model(model, args.path, format=args.format, opset=args.opset)
    except (TypeError, ValueError, ImportError, OSError) as exc:
        raise UsageError(f"cannot export {args.model!r}: {describe(exc)}") from exc
    shape = "x".join("N" if size is None else str(size) for size in info["input"]["shape"])
    print(
        f"wrote {os.path.abspath(args.path)} ({args.format}): input {info['input']['name']!r} "
        f"{info['input']['dtype']} {shape}, output {info['output']['name']!r} over "
        f"{len(info['classes'])} classes"
    )
    return 0
