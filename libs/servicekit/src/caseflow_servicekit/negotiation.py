"""Content negotiation for reports that come as JSON or, when asked for, CSV."""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"


def wants_csv(accept: str | None) -> bool:
    """Whether the `Accept` header prefers CSV to JSON (JSON unless CSV is asked for and
    preferred at least as much as JSON)."""
    if not accept:
        return False
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        weights[media] = max(weights.get(media, 0.0), quality)
    csv_weight = weights.get(CSV, 0.0)
    json_weight = max(weights.get(JSON, 0.0), weights.get("application/*", 0.0))
    return csv_weight > 0 and csv_weight >= json_weight
