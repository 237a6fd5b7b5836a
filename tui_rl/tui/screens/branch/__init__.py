"""Branching a run from the app: the dialog that edits the child's fields, and the flow that checks and starts it."""
