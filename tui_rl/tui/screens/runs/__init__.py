"""The Runs screen: every run folder in a table (branches under their parent, seed groups heading
their runs), marked runs compared on one chart, two runs' diff, a run exported or shared.

May import: the engine, the app's top-level modules, its widgets and shared dialogs, and the screens
it hands a run to (Train, Branch); only the app imports it.
"""
