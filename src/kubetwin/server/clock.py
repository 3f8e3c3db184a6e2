"""Serve mode's clock: the virtual EventLoop driven by wall time times a speed factor
(sim.loop.WallClock) from an asyncio task on the server's loop (DESIGN principle 9), and the
clock API under /apis/kubetwin.io/v1alpha1/clock.

The driver sleeps until the next virtual event is due (or a request kicks it because a write
scheduled work at the current instant), runs the due events in slices of at most STEP_BUDGET
wall seconds so HTTP handlers stay responsive, and saves the virtual time in the store's meta
table (with every write, and every SAVE_INTERVAL seconds) so ``--data-dir`` restarts resume it.

API (JSON bodies):
  GET  .../clock                     -> Clock {status: now, seconds, speed, paused}
  POST .../clock/advance {"duration": "30m"}
  POST .../clock/pause | .../clock/resume
  POST .../clock/speed {"speed": 60}
  PUT  .../clock {"spec": {"speed": N, "paused": bool}}
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetwin.api import errors
from kubetwin.sim import EventLoop, WallClock, format_duration, parse_duration
from kubetwin.store import Store

STEP_BUDGET = 0.05
IDLE_WAKE = 1.0
SAVE_INTERVAL = 1.0
META_KEY = "clock"


class ClockDriver:
    def __init__(self, loop: EventLoop, speed: float = 1.0, store: Store | None = None) -> None:
        self.loop = loop
        self.wall = WallClock(loop, speed)
        self.resume_speed = speed if speed > 0 else 1.0
        self.store = store
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        if store is not None:
            store.meta_values = lambda: {META_KEY: self.loop.now}

    # -- running -------------------------------------------------------------------------------
    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kubetwin-clock")

    async def stop(self) -> None:
        self._stopped = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        self.save()

    def kick(self) -> None:
        """Something was scheduled at the current instant: run it soon."""
        if self._wake is not None:
            self._wake.set()

    def save(self) -> None:
        if self.store is not None:
            self.store.put_meta(META_KEY, self.loop.now)

    def sync(self, budget: float = STEP_BUDGET) -> bool:
        """Run events due by wall time for at most ``budget`` wall seconds; True when caught up."""
        aio = asyncio.get_running_loop()
        deadline = aio.time() + budget
        target = max(self.wall.target(), self.loop.now)
        while True:
            nxt = self.loop.peek()
            if nxt is None or nxt > target:
                self.loop.run(until=target)
                return True
            self.loop.step()
            if aio.time() >= deadline:
                return False

    async def _run(self) -> None:
        assert self._wake is not None
        aio = asyncio.get_running_loop()
        next_save = aio.time() + SAVE_INTERVAL
        while not self._stopped:
            self._wake.clear()
            done = self.sync()
            if aio.time() >= next_save:
                self.save()
                next_save = aio.time() + SAVE_INTERVAL
            if not done:
                await asyncio.sleep(0)
                continue
            delay = self.wall.seconds_until_next()
            timeout = IDLE_WAKE if delay is None else min(delay, IDLE_WAKE)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    # -- control -------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.wall.speed == 0

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.wall.set_speed(speed)
        if speed > 0:
            self.resume_speed = speed
        self.kick()

    def pause(self) -> None:
        if not self.paused:
            self.resume_speed = self.wall.speed
            self.wall.set_speed(0)

    def resume(self) -> None:
        self.set_speed(self.resume_speed or 1.0)

    def advance(self, seconds: float) -> None:
        self.wall.advance(seconds)
        self.save()
        self.kick()

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Clock",
            "apiVersion": "kubetwin.io/v1alpha1",
            "metadata": {"name": "clock"},
            "spec": {"speed": self.wall.speed, "paused": self.paused},
            "status": {
                "now": self.loop.timestamp(),
                "seconds": round(self.loop.now, 3),
                "elapsed": format_duration(self.loop.now),
                "speed": self.wall.speed,
                "paused": self.paused,
                "pendingEvents": self.loop.pending(),
            },
        }


def _number(v: Any, what: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise errors.bad_request(f"{what}: Invalid value: {v!r}: must be a number") from None
    if f < 0 or f != f:
        raise errors.bad_request(f"{what}: Invalid value: {v!r}: must be greater than or equal to 0")
    return f


def handle(driver: ClockDriver, method: str, action: str | None, body: Any) -> dict[str, Any]:
    """The clock API; returns the Clock after the change."""
    body = body if isinstance(body, dict) else {}
    if method == "GET" and action is None:
        return driver.status()
    if method == "PUT" and action is None:
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else body
        if "speed" in spec:
            driver.set_speed(_number(spec["speed"], "spec.speed"))
        if spec.get("paused") is True:
            driver.pause()
        elif spec.get("paused") is False and driver.paused:
            driver.resume()
        return driver.status()
    if method == "POST":
        action = action or body.get("action")
        if action == "advance":
            try:
                seconds = parse_duration(body.get("duration", body.get("seconds", "")))
            except ValueError as e:
                raise errors.bad_request(f"duration: {e}") from None
            driver.advance(seconds)
        elif action == "pause":
            driver.pause()
        elif action == "resume":
            driver.resume()
        elif action == "speed":
            driver.set_speed(_number(body.get("speed"), "speed"))
        else:
            raise errors.bad_request(
                f'unknown clock action {action!r}: use "advance", "pause", "resume" or "speed"'
            )
        return driver.status()
    raise errors.method_not_allowed(f"{method} is not supported on the clock")
