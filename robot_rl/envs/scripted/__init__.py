"""Scripted (non-learned) controllers that act through the public observation and action spaces."""
