"""Orchestration of the stages: progress events, run folders, the end-to-end runner."""
