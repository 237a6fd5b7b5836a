"""The Inspect screen: a TensorDict stepped frame by frame, its dialogs, sources and the live env."""
