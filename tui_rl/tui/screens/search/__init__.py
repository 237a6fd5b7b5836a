"""The Search screen: a study's trials, its plots, and launching one."""
