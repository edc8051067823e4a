"""Usage forecasts with per-series model selection (cloud__forecast_usage)."""
