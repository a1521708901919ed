"""How the report writes a result: lookups and labels shared by the report's parts.

A leaf module (it imports nothing from ``benchmarks/``).
"""

from __future__ import annotations


def _get(results, *keys):
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _s(seconds):
    return f"{seconds:.1f}" if seconds < 100 else f"{seconds:.0f}"


def _config(config):
    return "ResNetClassifier(" + ", ".join(f"{k}={_tuple(v)}" for k, v in config.items()) + ")"


def _label(run):
    """``ResNetClassifier(...)`` as configured, with the defaults' values when none are set."""
    label = _config(run.get("config", {}))
    params = run.get("params", {})
    if not run.get("config") and params:
        label += f" (widths={_tuple(params['widths'])}, epochs={params['epochs']})"
    return label


def _tuple(value):
    return repr(tuple(value)) if isinstance(value, list) else repr(value)
