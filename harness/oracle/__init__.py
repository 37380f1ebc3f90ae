"""How a hop is judged: the tolerance policy and metrics (compare), the float64 truth and the noise-aware
verdict (verdict), and, for a failing hop, the node that broke it (localize, exporter_localize)."""
