"""The Textual app. Nothing here imports torch before the first paint: the engine's torch-using
modules are imported inside thread workers, and the trainer runs in its own process."""
