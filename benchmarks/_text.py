"""How the report writes a result: lookups and labels shared by the report's parts.

A leaf module (it imports nothing from ``benchmarks/``).
"""

from __future__ import annotations


def lookup(results, *keys):
    """``results[key][key]...``, or None where a key is missing."""
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def format_seconds(seconds):
    return f"{seconds:.1f}" if seconds < 100 else f"{seconds:.0f}"


def run_label(run):
    """``ResNetClassifier(...)`` as configured, with the defaults' values when none are set."""
    config = run.get("config", {})
    label = "ResNetClassifier(" + ", ".join(f"{k}={format_value(v)}" for k, v in config.items())
    label += ")"
    params = run.get("params", {})
    if not config and params:
        label += f" (widths={format_value(params['widths'])}, epochs={params['epochs']})"
    return label


def format_value(value):
    """``repr(value)``, a list written as a tuple (as the parameter was given)."""
    return repr(tuple(value)) if isinstance(value, list) else repr(value)
