"""Annotation layers: label writes and history, agreement, consensus, snapshots and diffs."""
