"""Training runs: when to retrain (cadence), what a run stores (artifacts) and how a daily
build scores with a stored run instead of refitting."""
