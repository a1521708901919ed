"""The configurations the benchmark scripts share: a leaf module.

It imports nothing from ``benchmarks/``. The recipe ``make bench`` measures is
``ResNetClassifier``'s defaults (no parameter set); ``BASELINE`` is the
configuration the recipe is compared with (the ablation's ``baseline``, the
report's fixed-epoch baseline runs); ``RUNS`` the accuracy runs of
``accuracy_budget.py``, which ``choose_temperature.py`` also offers as
configurations.
"""

from __future__ import annotations

# The baseline: SGD throughout, a cosine schedule, batches of 256, no whitening.
BASELINE = dict(
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

# --- the accuracy runs (edit here) ----------------------------------------------------
# name -> ResNetClassifier parameters (random_state is the seed), the budget as a
# multiple of the notebook CNN's fit time (None: no time_budget) and the seeds.
# The recipe is ResNetClassifier's defaults (ReLU, Muon, flip-only test-time
# augmentation; docs/benchmarks.md says how each was chosen).
RUNS = {
    # About five epochs fit in 1x: the narrow widths and batches of 512 (the learning
    # rate halved with the batch) gain there; docs/benchmarks.md, "Batches of 512 at 1x".
    "1x": dict(
        params=dict(widths=(32, 64, 128), batch_size=512, learning_rate=0.75),
        factor=1,
        seeds=(0, 1, 2),
    ),
    # What a user writes first: the defaults and a budget; fit chooses the network
    # (docs/benchmarks.md, "A budget picks its network"). At 1x against "1x" above.
    "1x-auto": dict(params={}, factor=1, seeds=(0, 1, 2)),
    "6x": dict(params={}, factor=6, seeds=(0,)),
    "12x": dict(params={}, factor=12, seeds=(0,)),
    "default": dict(params={}, factor=None, seeds=(0,)),  # ResNetClassifier(random_state=0)
}
BENCH_RUNS = ("1x", "1x-auto", "6x")  # make bench; make bench-full (--full) runs all of RUNS
# --quick: tiny networks (a smoke test, not a result)
QUICK_NETWORK = dict(widths=(8, 16, 16), stem_filters=8)
QUICK_EPOCHS = 1  # for the runs without a budget
# ---------------------------------------------------------------------------------------


def run_params(name, quick):
    """The ResNetClassifier parameters of run ``name``, seed and budget left out."""
    params = dict(RUNS[name]["params"])
    if quick:
        params.update(QUICK_NETWORK)
        if RUNS[name]["factor"] is None:
            params["epochs"] = QUICK_EPOCHS
    return params


# name -> ResNetClassifier parameters of the networks utilisation.py and
# layer_profile.py measure.
NETWORKS = {
    "recipe": {},  # the defaults without a budget: the network 6x and 12x choose
    "recipe-float32": dict(precision="float32"),  # the same in float32: what bfloat16 gains
    "recipe-32-64-128": dict(widths=(32, 64, 128)),  # its widths, the defaults' batches
    "recipe-32-64-128-b512": RUNS["1x"]["params"],  # the 1x network: a budget's small one
    "baseline": BASELINE,  # what the recipe is compared with
    "baseline-64-128-128": dict(BASELINE, widths=(64, 128, 128)),
    "baseline-32-64-128": dict(BASELINE, widths=(32, 64, 128)),
}
