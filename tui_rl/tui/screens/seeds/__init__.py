"""Seed groups from the app: the dialog and the launch."""
