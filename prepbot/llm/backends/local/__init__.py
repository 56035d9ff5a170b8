"""llama-cpp-python in process: the backend (backend.py), its chat model, prewarming, threads, grammar
sampling, prefix states on disk, the model files, and ``prepbot serve-model``."""
