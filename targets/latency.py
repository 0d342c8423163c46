"""Latency summaries shared by the targets that time inferences."""
import numpy as np


def latency_summary(latencies_ms: list) -> dict | None:
    if not latencies_ms:
        return None
    return {"p50": round(float(np.percentile(latencies_ms, 50)), 4),
            "p90": round(float(np.percentile(latencies_ms, 90)), 4)}
