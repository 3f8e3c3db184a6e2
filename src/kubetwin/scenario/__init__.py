"""Scenario loading, the Cluster runtime that wires the components, recording and reports."""
