#!/usr/bin/python3
"""Drives fer-live with a heart-rate FIFO (tests/sh/live-fifo.sh).

usage: live_fifo.py FER_LIVE VIDEO DIR [TIMEOUT_S]

Runs `FER_LIVE --realtime --json --hr-stream DIR/hr.fifo VIDEO` and reads its
JSON Lines as they come. Every step waits for fer-live's own status lines (one
a second of media time), never for a length of time:

  1. the first status has no heart rate: the face alone (its arousal, a0);
  2. calm: 62 bpm lines, a few after each status, until a status reports
     62 bpm; the state of the status after it (still 62 bpm) is the calm one;
  3. racing: 130-140 bpm lines until a status reports 120 bpm or more; the
     state of the status after it is the racing one. Its arousal must exceed
     the calm one's by 0.3 (0.35 -> 0.85 with the test face), the heart's own
     arousal too;
  4. EOF: the writer closes the FIFO. fer-live goes on; after --hr-timeout
     (5 s, docs/live.md) without a line its statuses have "heart": null and
     the state falls back to the face alone (arousal within 0.1 of a0, at least
     0.15 under the racing one). That status cannot come before 5 s after the
     last line was written (a lower bound only: a slow machine makes it later);
  5. SIGINT: fer-live finishes its second and exits 0, nothing on stderr.

Each step has a bound in status lines (media seconds); TIMEOUT_S (60) bounds
the whole run in wall time, so a fer-live that hangs fails the test. fer-live
is killed if it is still running at the end, whatever happened.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

HR_TIMEOUT = 5.0  # fer-live's default --hr-timeout (docs/live.md)


class Fail(Exception):
    pass


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    exe, video, tmp = argv[1], argv[2], argv[3]
    deadline = time.monotonic() + (float(argv[4]) if len(argv) == 5 else 60.0)
    fifo = os.path.join(tmp, "hr.fifo")
    os.mkfifo(fifo)
    # Read and write: opening never blocks, and closing it is the writer's EOF.
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    err = open(os.path.join(tmp, "fifo.err"), "w+")
    proc = subprocess.Popen([exe, "--realtime", "--json", "--hr-stream", fifo, video],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    lines = queue.Queue()

    def reader():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen = []
    closed = False

    def status():
        """The next status object; playlist events are kept in seen."""
        while True:
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(left, 0))
            except queue.Empty:
                raise Fail("no line from fer-live before the overall timeout")
            if line is None:
                proc.wait(timeout=max(deadline - time.monotonic(), 1))
                err.seek(0)
                raise Fail(f"fer-live ended early (exit {proc.returncode}): {err.read()!r}")
            o = json.loads(line)
            seen.append(o)
            if o["event"] == "status":
                if o["state"] is None:
                    raise Fail(f"no state (the face was not found): {o}")
                return o

    def write(text):
        t = time.monotonic()  # before: fer-live reads the line after this
        if os.write(fd, text.encode()) != len(text):
            raise Fail("short write to the FIFO")
        return t

    def wait_for(name, feed, ok, limit):
        """Writes feed() after each status until ok(status); returns the state of
        the status after that one, which must be ok too (the hold time: a new
        label replaces the state in force 0.7 s after it appears)."""
        for _ in range(limit):
            write(feed())
            o = status()
            if o["heart"] is not None and ok(o["heart"]["bpm"]):
                write(feed())
                o = status()
                if o["heart"] is None or not ok(o["heart"]["bpm"]):
                    raise Fail(f"{name}: the heart rate left the target again: {o['heart']}")
                return o
        raise Fail(f"{name}: no status reported it in {limit} seconds of media: {o['heart']}")

    try:
        first = status()
        if first["heart"] is not None:
            raise Fail(f"a heart rate before any line: {first['heart']}")
        a0 = first["state"]["arousal"]

        calm = wait_for("62 bpm", lambda: "62\n" * 3, lambda b: abs(b - 62) < 2, 8)
        racing_bpm = iter(range(10**6))
        racing = wait_for("130-140 bpm",
                          lambda: "".join(f"{130 + next(racing_bpm) % 11}\n" for _ in range(10)),
                          lambda b: b >= 120, 10)
        a_calm, a_racing = calm["state"]["arousal"], racing["state"]["arousal"]
        print(f"live_fifo: arousal face alone {a0:.3f}, at {calm['heart']['bpm']:.0f} bpm "
              f"{a_calm:.3f}, at {racing['heart']['bpm']:.0f} bpm {a_racing:.3f}")
        if not a_racing > a_calm + 0.3:
            raise Fail(f"arousal did not rise: calm {calm['state']}, racing {racing['state']}")
        if not racing["heart"]["arousal"] > calm["heart"]["arousal"] + 0.3:
            raise Fail(f"heart arousal did not rise: {calm['heart']}, {racing['heart']}")

        # EOF: the last line, then the writer goes.
        last_line = write("135\n")
        os.close(fd)
        closed = True
        for n in range(int(HR_TIMEOUT) + 10):
            o = status()
            if o["heart"] is None:
                break
        else:
            raise Fail(f"the heart rate outlived the sensor by {n + 1} status lines: {o['heart']}")
        after = time.monotonic() - last_line
        if after < HR_TIMEOUT:
            raise Fail(f"the heart rate went {after:.2f} s after the last line (timeout {HR_TIMEOUT} s)")
        back = status()
        if back["heart"] is not None:
            raise Fail(f"a heart rate came back after EOF: {back['heart']}")
        a_back = back["state"]["arousal"]
        print(f"live_fifo: EOF: the face alone {after:.1f} s after the last line, "
              f"arousal {a_back:.3f}")
        if not (abs(a_back - a0) < 0.1 and a_back < a_racing - 0.15):
            raise Fail(f"no fall back to the face alone: {back['state']} (face alone {a0}, "
                       f"racing {a_racing})")

        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        err.seek(0)
        text = err.read()
        if rc != 0 or text:
            raise Fail(f"after SIGINT: exit {rc}, stderr {text!r}")
        print(f"live_fifo: passed ({sum(o['event'] == 'status' for o in seen)} status lines)")
        return 0
    except Fail as e:
        print(f"FAIL: live_fifo: {e}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"FAIL: live_fifo: {type(e).__name__}: {e}")
        return 1
    except subprocess.TimeoutExpired:
        print("FAIL: live_fifo: fer-live did not exit before the overall timeout")
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not closed:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
