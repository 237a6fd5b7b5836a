"""The Train screen: one run's charts, status and live edits, and how a run is opened into it."""
