"""Traffic splits (A/B, weighted canary) and model chains: named routes in front of model services."""
