"""``skcifar predict``: classify JPEG/PNG images of any size with a saved pipeline."""

from __future__ import annotations

import json

from ._common import UsageError, describe, input_shape, load_model


def _image_shape(model):
    """``(H, W, C)`` of the model's input: the classifier's ``image_shape_``, else the rule's."""
    from skcifar.utils.validation import image_shape_for

    steps = getattr(model, "steps", None)
    classifier = steps[-1][1] if steps else model
    shape = getattr(classifier, "image_shape_", None)
    if shape is None:
        shape = input_shape(model)
        if len(shape) == 1:
            shape = image_shape_for(shape[0])
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise UsageError(f"the model's input shape {input_shape(model)} is not an image shape")
    return shape


def read_image(path, shape):
    """Read an image file as uint8 pixels of ``shape`` ``(H, W, C)``, resized to fit.

    EXIF orientation is applied; colour images become grayscale and back as needed.
    """
    import numpy as np
    from PIL import Image, ImageOps

    height, width, channels = shape
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB" if channels == 3 else "L")
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise UsageError(f"image {path!r} not found") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UsageError(f"cannot read image {path!r}: {describe(exc)}") from exc
    return pixels.reshape(shape)


def _label(value):
    """A class label as a JSON-friendly Python value."""
    return value.item() if hasattr(value, "item") else value


def predict(args):
    """Print the top-k classes of each image."""
    import numpy as np

    from skcifar.datasets import display_names

    model = load_model(args.model, allow_pickle=args.allow_pickle)
    shape = _image_shape(model)
    images = np.stack([read_image(path, shape) for path in args.images])
    proba = np.asarray(model.predict_proba(images.reshape(len(images), *input_shape(model))))
    names = display_names(model.classes_)
    k = min(args.top_k, len(names))

    results = []
    for path, row in zip(args.images, proba, strict=True):
        top = np.argsort(-row, kind="stable")[:k]
        results.append(
            {
                "image": path,
                "predictions": [
                    {
                        "class": names[i],
                        "label": _label(model.classes_[i]),
                        "probability": float(row[i]),
                    }
                    for i in top
                ],
            }
        )

    if args.json:
        print(json.dumps({"model": args.model, "top_k": k, "results": results}, indent=2))
        return 0
    width = max(len(name) for name in names)
    for result in results:
        print(result["image"])
        for rank, pred in enumerate(result["predictions"], 1):
            print(f"  {rank}. {pred['class']:<{width}}  {pred['probability']:.4f}")
    return 0
