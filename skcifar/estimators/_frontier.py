"""The networks a ``time_budget`` chooses between, and their measured frontier.

A leaf of the estimators (data only). ``benchmarks/frontier.py`` measures each
network's frontier: its validation accuracy after a fit of so many epochs
(CIFAR-10, 45,000 training images, 5,000 held out, seed 0), with flip-only
test-time views and with the shifted ones. Epochs, not seconds: the same on
every CPU; :mod:`skcifar.estimators._choice` turns a budget into epochs of
each network from speeds it measures. docs/benchmarks.md shows the points
and the plot.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from ..architectures import build_resnet


@dataclass(frozen=True)
class BudgetNetwork:
    """A candidate network: its ``ResNetClassifier`` sizes and its measured frontier.

    ``frontier`` holds ``(epochs, accuracy, accuracy with tta_shift=1)``
    points, epochs increasing.
    """

    params: dict
    frontier: tuple


_BUILD_DEFAULTS = inspect.signature(build_resnet).parameters

#: The network of ``ResNetClassifier``'s "auto" sizes without a budget.
DEFAULT_NETWORK = "default"

#: name -> the candidate networks, smallest first; measured 2026-12-04
#: (``python benchmarks/frontier.py``).
BUDGET_NETWORKS = {
    "small": BudgetNetwork(
        dict(widths=(32, 64, 128), batch_size=512, learning_rate=0.75),
        frontier=(
            (1, 0.7682, 0.7708),
            (2, 0.8076, 0.8086),
            (4, 0.8402, 0.8442),
            (8, 0.8626, 0.8702),
            (16, 0.8788, 0.8824),
        ),
    ),
    DEFAULT_NETWORK: BudgetNetwork(
        dict(
            widths=_BUILD_DEFAULTS["widths"].default,
            batch_size=1024,
            learning_rate=_BUILD_DEFAULTS["learning_rate"].default,
        ),
        frontier=(
            (1, 0.8014, 0.8050),
            (2, 0.8508, 0.8510),
            (4, 0.8758, 0.8808),
            (8, 0.8984, 0.9024),
        ),
    ),
}
