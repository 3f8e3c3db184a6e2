"""Vertical Pod Autoscaler (kubernetes/autoscaler vertical-pod-autoscaler): recommender, updater and
the admission plugin that applies recommendations to new pods."""
