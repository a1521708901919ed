"""The ``skcifar`` command line: train, evaluate, predict, search and export.

Run ``skcifar --help`` (or ``python -m skcifar --help``) for the commands and
``skcifar COMMAND --help`` for their options. :func:`main` is the entry point of
the ``skcifar`` console script; ``skcifar --help`` describes the model files.

Exit status: 0 on success, 2 for bad input (argparse's own status: bad options,
missing or corrupt model files, pickles without ``--allow-pickle``, unreadable
images, data not found), 130 when interrupted. Errors are reported as one
``skcifar: error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import sys

from ._common import (
    UsageError,
    cv_folds,
    duration,
    filters,
    n_jobs,
    non_negative_int,
    one_line,
    positive_int,
)

__all__ = ["main"]

_DESCRIPTION = """\
scikit-learn compatible Keras image classifiers for CIFAR-10.

The data is read from --data, else $SKCIFAR_DATA, else the data home, else
downloaded (see skcifar.datasets.load_data). Models are scikit-learn pipelines
saved as .skcifar files (skcifar.save: no pickle, loading runs no code from the
file). A --out name ending in .joblib, .pkl or .pickle saves a joblib pickle
instead; evaluate and predict load a pickle only with --allow-pickle, since
loading a pickle runs code from the file: only pass it for files you trust."""

# Help for --out: how the output name selects the format.
_OUT_FORMATS = "a .joblib, .pkl or .pickle name saves a joblib pickle instead"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors become one ``skcifar: error:`` line (exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_data(parser):
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="CIFAR-10 archive or directory (default: $SKCIFAR_DATA, the cache, or download)",
    )


def _add_seed_quiet(parser, quiet_help):
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="random_state (default 0)"
    )
    parser.add_argument("--quiet", action="store_true", help=quiet_help)


def _add_model(parser):
    """The MODEL argument and --allow-pickle of the commands that load a model."""
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a .skcifar file saved by skcifar train (a joblib pickle needs --allow-pickle)",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="also load MODEL if it is a joblib/pickle file rather than a .skcifar file; "
        "loading a pickle runs code from the file, so use this only for files you trust",
    )


def _add_train(commands):
    parser = commands.add_parser(
        "train",
        help="train a classifier on CIFAR-10 and save it",
        description="Load CIFAR-10, fit Pipeline(PixelScaler, ANN, CNN or ResNet classifier), "
        "print the test accuracy and log-loss, and save the fitted pipeline as a .skcifar file "
        "(skcifar.save, no pickle), or as a joblib pickle if --out ends in .joblib, .pkl or "
        ".pickle.",
    )
    parser.add_argument(
        "--model",
        choices=("ann", "cnn", "resnet"),
        default="cnn",
        help="the network: the notebook's ann or cnn, or resnet, a ResNet-style network that "
        "is plain (residual=False; residual=True adds skip connections) (default: cnn)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="training epochs (default: cnn 10, ann 5, resnet 8)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="batch size (default: ann and cnn 32, resnet auto: 1024 or a budget's choice)",
    )
    parser.add_argument(
        "--filters",
        type=filters,
        metavar="F1,F2,...",
        help="filters of each convolution block, cnn only (default 32,64)",
    )
    parser.add_argument(
        "--widths",
        type=filters,
        metavar="W1,W2,...",
        help="filters of each stage, resnet only (default auto: 64,256,256 or a budget's choice)",
    )
    parser.add_argument(
        "--time-budget",
        type=duration,
        metavar="T",
        help="train as many epochs as fit in T (e.g. 90s, 3m, 1h), instead of --epochs",
    )
    parser.add_argument(
        "--subset", type=positive_int, metavar="N", help="train on the first N images only"
    )
    _add_data(parser)
    parser.add_argument(
        "--out",
        metavar="FILE",
        help=f"where to save the pipeline (default runs/MODEL-pipeline.skcifar; {_OUT_FORMATS})",
    )
    parser.add_argument("--report", metavar="DIR", help="write the evaluation report to DIR")
    _add_seed_quiet(parser, "no progress bars")


def _add_evaluate(commands):
    parser = commands.add_parser(
        "evaluate",
        help="evaluate a saved model on the CIFAR-10 test set",
        description="Evaluate a saved pipeline on the CIFAR-10 test set and print the summary.",
    )
    _add_model(parser)
    _add_data(parser)
    parser.add_argument("--report", metavar="DIR", help="write the evaluation report to DIR")


def _add_predict(commands):
    parser = commands.add_parser(
        "predict",
        help="classify image files with a saved model",
        description="Classify JPEG/PNG images of any size: each is converted to RGB and resized "
        "to the model's input size; the top-k classes are printed with their probabilities.",
    )
    _add_model(parser)
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    parser.add_argument(
        "--top-k", type=positive_int, default=3, metavar="K", help="classes to show (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _add_search(commands):
    from ._search import DEFAULT_EPOCHS, DEFAULT_FILTERS, DEFAULT_OUT, DEFAULT_SUBSET

    parser = commands.add_parser(
        "search",
        help="grid-search the CNN's filters and epochs",
        description="Cross-validated grid search (GridSearchCV) of the CNN's filters and "
        "epochs on the training set; prints the ranked results and saves the best pipeline, "
        "refitted on the whole subset.",
    )
    parser.add_argument("--model", choices=("cnn",), default="cnn", help="the network (cnn)")
    parser.add_argument(
        "--filters",
        type=filters,
        nargs="+",
        default=DEFAULT_FILTERS,
        metavar="F1,F2",
        help="candidate filter tuples (default: 16,32 32,64)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        nargs="+",
        default=DEFAULT_EPOCHS,
        metavar="N",
        help="candidate epoch counts (default: 5 10)",
    )
    parser.add_argument(
        "--cv", type=cv_folds, default=3, metavar="K", help="cross-validation folds (default 3)"
    )
    parser.add_argument(
        "--subset",
        type=positive_int,
        default=DEFAULT_SUBSET,
        metavar="N",
        help=f"search on the first N training images (default {DEFAULT_SUBSET})",
    )
    parser.add_argument(
        "--n-jobs", type=n_jobs, default=1, metavar="N", help="parallel fits (default 1; -1: all)"
    )
    _add_data(parser)
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="FILE",
        help=f"where to save the best pipeline (default {DEFAULT_OUT}; {_OUT_FORMATS})",
    )
    parser.add_argument(
        "--memory",
        metavar="DIR",
        help="cache epoch checkpoints in DIR: a candidate resumes from the shorter candidates' "
        "fits (same results, fewer epochs trained) and a repeated search reuses them all",
    )
    _add_seed_quiet(parser, "less progress output")


def _add_export(commands):
    parser = commands.add_parser(
        "export",
        help="export a saved model for serving (ONNX or TensorFlow SavedModel)",
        description="Write a saved pipeline as one graph for serving, pixel scaling and "
        "test-time augmentation included: uint8 images in, class probabilities out, class "
        "names in the metadata (skcifar.export). ONNX needs pip install 'skcifar[export]'.",
    )
    _add_model(parser)
    parser.add_argument(
        "path", metavar="PATH", help="the .onnx file, or the SavedModel directory, to write"
    )
    parser.add_argument(
        "--format",
        choices=("onnx", "savedmodel"),
        default="onnx",
        help="the output format (default: onnx)",
    )
    parser.add_argument(
        "--opset", type=positive_int, metavar="N", help="ONNX opset (default: tf2onnx's)"
    )


def _build_parser():
    from skcifar import __version__

    parser = _Parser(
        prog="skcifar",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_search(commands)
    _add_export(commands)
    return parser


def _run(args):
    if args.command == "train":
        from ._train import train as command
    elif args.command == "evaluate":
        from ._train import evaluate as command
    elif args.command == "predict":
        from ._predict import predict as command
    elif args.command == "search":
        from ._search import search as command
    elif args.command == "export":
        from ._export import export as command
    else:
        raise UsageError(
            "missing command: choose train, evaluate, predict, search or export "
            "(see 'skcifar --help')"
        )
    return command(args)


def main(argv=None):
    """Run the ``skcifar`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input, 130 when interrupted.
    """
    try:
        args = _build_parser().parse_args(argv)
        return _run(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except UsageError as exc:
        sys.stdout.flush()
        print(f"skcifar: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("skcifar: interrupted", file=sys.stderr)
        return 130
