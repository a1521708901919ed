"""The configurations the benchmark scripts share: a leaf module.

``RECIPE`` is the recipe ``make bench`` measures, ``ResNetClassifier``'s own
defaults (no parameter set); ``PREVIOUS_DEFAULTS`` the defaults before the
recipe, the ablation's ``baseline``.
"""

from __future__ import annotations

#: The recipe: ``ResNetClassifier()``'s defaults.
RECIPE = {}

# ResNetClassifier's defaults before the recipe became them: the
# "baseline" of the ablation.
PREVIOUS_DEFAULTS = dict(
    learning_rate=0.4,
    momentum=0.9,
    weight_decay=5e-3,
    label_smoothing=0.1,
    warmup_fraction=0.2,
    whiten=False,
    identity_init=False,
    batch_norm_scale=True,
    batch_norm_momentum=0.9,
    bias_lr_scale=1.0,
    conv_optimizer="sgd",
    residual=True,
    flip="random",
    max_shift=None,
    shift_padding="constant",
    schedule="cosine",
    lookahead=False,
    batch_size=256,
)
