"""How the reports write numbers and times, so the report's data (``analysis.report``) and its
renderings (``analysis.report_render``) write them the same way.

Times are wall time as measured; at a time scale other than 1 the model time follows in brackets
(docs/baselines.md).
"""

from __future__ import annotations


def number(value: float | None) -> str:
    """A measurement to three significant figures or so, without exponent notation."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def wall_model(value: float | None, scale: float) -> str:
    """A wall time, followed by the model time in brackets when the scale is not 1."""
    if value is None or scale == 1.0:
        return number(value)
    return f"{number(value)} ({number(value / scale)})"


def unit(name: str, scale: float) -> str:
    return f"{name} wall (model)" if scale != 1.0 else name


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 anomaly``, ``2 anomalies``: counts in sentences a person reads."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {words or word + 's'}"
