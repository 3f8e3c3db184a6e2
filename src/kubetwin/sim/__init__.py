"""Virtual time: event heap, clocks and seeded randomness. Knows nothing about Kubernetes."""

from kubetwin.sim.loop import EventLoop, Handle, WallClock
from kubetwin.sim.rng import SeededRNG
from kubetwin.sim.time import format_duration, parse_duration

__all__ = ["EventLoop", "Handle", "WallClock", "SeededRNG", "format_duration", "parse_duration"]
