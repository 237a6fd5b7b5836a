"""One screen per mode (setup, train, runs, inspect), plus the help and quit modals."""
