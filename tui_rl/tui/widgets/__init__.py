"""Widgets of the app's screens, one per file."""
