"""Snapshots: encode records, stage a run, guard it, publish or discard it atomically."""
