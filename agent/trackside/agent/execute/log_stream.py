"""The task's console: every line of the run (the task's output and the agent's own notes) masked, echoed
on this terminal (and ``--log-file``), and sent to the server as ``events.add_batch`` log events.

    splitter = LineSplitter(redact.split_safe)      # bytes -> lines: \\r progress frames, partial lines
    stream = LogStream(api.call_batch, task, worker, flush_sec=1.0).start()
    console = Console(redact, sys.stdout, stream)    # console.line(text, "INFO")
    pump = OutputPump(fd, splitter, console.line).start()   # a thread reading the task's merged output

``LogStream`` never holds up the task: lines go into a bounded buffer that a background thread sends every
``flush_sec`` (sooner when a batch is large). When the server is slower than the task, the oldest lines
are dropped and a notice says how many, so memory stays bounded; ``close`` sends what is left.
"""
from __future__ import annotations

import codecs
import collections
import os
import select
import sys
import threading
import time
from typing import Callable, TextIO

from trackside.agent.redact import Redactor

MAX_EVENT_CHARS = 64 * 1024          # one log event's msg at most (clearml-agent's limit); longer lines split
MAX_BUFFERED_LINES = 20_000          # what waits for the server, at most (then the oldest lines are dropped)
MAX_BUFFERED_CHARS = 8 * 1024 * 1024
BATCH_LINES = 2_000                  # wake the sender early past this many lines...
BATCH_CHARS = 1024 * 1024            # ...or characters
MAX_EVENTS_PER_CALL = 500
MAX_RETRY_SEC = 30.0                 # the longest wait between two tries while the server is away

Sink = Callable[[str, str], None]    # (line, level)


class LineSplitter:
    """Bytes of output -> text lines, the way a terminal shows them.

    ``\\r`` (progress bars): with ``suppress_cr`` a line is its last frame, and a line still being redrawn
    shows its current frame when ``flush_partial`` is called (once per new frame); without it every ``\\r``
    ends a line. A partial line (a prompt, ``print(end="")``) is shown by ``flush_partial`` up to
    where ``split_safe`` allows (never inside what may be a secret), the rest when it is finished. Lines are
    cut at ``max_line`` characters so memory stays bounded whatever the task writes.
    """

    def __init__(self, split_safe: Callable[[str], tuple[str, str]] | None = None, suppress_cr: bool = True,
                 max_line: int = MAX_EVENT_CHARS):
        self.split_safe = split_safe or (lambda text: (text, ""))
        self.suppress_cr, self.max_line = suppress_cr, max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""          # the unfinished line (since the last part of it was shown)
        self._shown = False     # part of the unfinished line was shown already
        self._frame = ""        # the progress frame of the unfinished line shown last

    def feed(self, data: bytes) -> list[str]:
        return self._text(self._decoder.decode(data))

    def finish(self) -> list[str]:
        lines = self._text(self._decoder.decode(b"", final=True))
        if self._buf:
            lines += self._end_line(self._buf)
        self._buf, self._shown, self._frame = "", False, ""
        return lines

    def flush_partial(self) -> list[str]:
        """What can be shown of the unfinished line now (called when the task has been quiet a while)."""
        if not self._buf:
            return []
        if "\r" in self._buf:
            *frames, current = self._buf.split("\r")
            # The frame being drawn, as clearml-agent shows it, unless it may end inside a secret.
            frame = current if current and not self.split_safe(current)[1] else \
                next((f for f in reversed(frames) if f), "")
            self._buf = "\r" + current      # the frames before it are gone for good
            if not frame or frame == self._frame:
                return []
            self._frame, self._shown = frame, True
            return [frame]
        head, self._buf = self.split_safe(self._buf)
        if not head:
            return []
        self._shown = True
        return [head]

    def _text(self, text: str) -> list[str]:
        if not self.suppress_cr:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines: list[str] = []
        *complete, self._buf = (self._buf + text).split("\n")
        for raw in complete:
            lines += self._end_line(raw)
            self._shown, self._frame = False, ""
        if len(self._buf) > self.max_line:
            lines += self._cut_long()
        return lines

    def _end_line(self, raw: str) -> list[str]:
        line = raw
        if "\r" in raw:
            frames = raw.split("\r")
            line = frames[-1] if frames[-1] or len(frames) < 2 else frames[-2]
        if self._shown and (not line or line == self._frame):
            return []          # its frames or its beginning were shown already
        return self._chunks(line)

    def _cut_long(self) -> list[str]:
        """An unfinished line past ``max_line``: show its safe part now, in ``max_line`` chunks."""
        text = self._buf.rsplit("\r", 1)[-1] if self.suppress_cr else self._buf
        head, tail = self.split_safe(text)
        if len(tail) > self.max_line:    # one endless token: nothing is held back past max_line
            head, tail = text, ""
        self._buf, self._shown = tail, True
        return self._chunks(head) if head else []

    def _chunks(self, line: str) -> list[str]:
        if len(line) <= self.max_line:
            return [line]
        return [line[i:i + self.max_line] for i in range(0, len(line), self.max_line)]


class LogStream:
    """Lines -> ``events.add_batch`` log events, from a background thread, with a bounded buffer.

    Consecutive lines of one level sent together become one event (``msg`` joined by newlines, at most
    ``MAX_EVENT_CHARS``), as clearml-agent sends them; event timestamps strictly increase, so the console
    reads back in order however many lines one millisecond holds.
    """

    def __init__(self, call_batch: Callable[[str, list], object], task: str, worker: str, flush_sec: float = 1.0,
                 max_lines: int = MAX_BUFFERED_LINES, max_chars: int = MAX_BUFFERED_CHARS,
                 on_problem: Callable[[str], None] | None = None):
        self.call_batch, self.task, self.worker = call_batch, task, worker
        self.flush_sec = max(0.05, float(flush_sec))
        self.max_lines, self.max_chars = max_lines, max_chars
        self.on_problem = on_problem or (lambda text: print(f"trackside-agent: {text}", file=sys.stderr))
        self._pending: collections.deque = collections.deque()   # (timestamp ms, level, line, starts an event)
        self._chars = 0
        self._dropped = 0
        self._last_ts = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-stream", daemon=True)
        self._failing = False
        self.sent_lines = 0
        self.dropped_total = 0

    def start(self) -> "LogStream":
        self._thread.start()
        return self

    def write(self, line: str, level: str = "DEBUG", new_event: bool = False) -> None:
        """Queue one (already masked) line; never blocks on the server. ``new_event``: the line starts an
        event of its own (a landmark such as the task's start, found by its event's timestamp)."""
        stamp = int(time.time() * 1000)
        with self._lock:
            self._pending.append((stamp, level, line, new_event))
            self._chars += len(line)
            while len(self._pending) > self.max_lines or self._chars > self.max_chars:
                _, _, old, _ = self._pending.popleft()
                self._chars -= len(old)
                self._dropped += 1
                self.dropped_total += 1
            if len(self._pending) >= BATCH_LINES or self._chars >= BATCH_CHARS:
                self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Send everything still buffered (trying for ``timeout`` seconds at most), then stop."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            left = len(self._pending)
        if left:
            self.on_problem(f"{left} console line(s) could not be sent to the server")

    # -- the sender thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self.flush_sec
        deadline = None
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            closing = self._closing.is_set()
            if closing and deadline is None:
                deadline = time.monotonic() + 25.0
            ok = self._send_pending()
            if closing and (ok or time.monotonic() > deadline):
                return
            delay = self.flush_sec if ok else min(max(delay * 2, 0.5), MAX_RETRY_SEC, 2.0 if closing else 1e9)

    def _send_pending(self) -> bool:
        """Send all buffered lines; False when the server could not be reached (they stay buffered)."""
        while True:
            with self._lock:
                if not self._pending and not self._dropped:
                    return True
                taken = list(self._pending)
                self._pending.clear()
                self._chars = 0
                dropped, self._dropped = self._dropped, 0
            events, used = self._events(taken, dropped, MAX_EVENTS_PER_CALL)
            try:
                answer = self.call_batch("events.add_batch", events)
            except Exception as exc:  # noqa: BLE001 - the server is away or slow: keep the lines, retry later
                self._put_back(taken, dropped)
                if not self._failing:
                    self.on_problem(f"sending the console log failed ({exc}); retrying")
                self._failing = True
                return False
            self._failing = False
            self._put_back(taken[used:], 0)
            self.sent_lines += used
            if isinstance(answer, dict) and answer.get("errors"):
                self.on_problem(f"the server refused {answer['errors']} log event(s): {answer.get('errors_info')}")

    def _put_back(self, lines: list, dropped: int) -> None:
        with self._lock:
            self._pending.extendleft(reversed(lines))
            self._chars += sum(len(item[2]) for item in lines)
            self._dropped += dropped
            while len(self._pending) > self.max_lines or self._chars > self.max_chars:
                _, _, old, _ = self._pending.popleft()
                self._chars -= len(old)
                self._dropped += 1
                self.dropped_total += 1

    def _events(self, lines: list, dropped: int, max_events: int) -> tuple[list[dict], int]:
        """Events for the first lines (at most ``max_events``), and how many lines they hold."""
        events: list[dict] = []
        if dropped:
            stamp = lines[0][0] if lines else int(time.time() * 1000)
            events.append(self._event(stamp, "WARNING", f"[trackside-agent] {dropped} console line(s) dropped: "
                                                         "the server was not keeping up"))
        used = 0
        parts: list[str] = []
        size = 0
        first = None
        for stamp, level, line, new_event in lines:
            if parts and (new_event or level != first[1] or size + 1 + len(line) > MAX_EVENT_CHARS):
                events.append(self._event(first[0], first[1], "\n".join(parts)))
                parts, size = [], 0
                if len(events) >= max_events:
                    return events, used
            if not parts:
                first = (stamp, level)
            parts.append(line)
            size += len(line) + 1
            used += 1
        if parts:
            events.append(self._event(first[0], first[1], "\n".join(parts)))
        return events, used

    def _event(self, stamp: int, level: str, msg: str) -> dict:
        self._last_ts = max(stamp, self._last_ts + 1)
        return {"type": "log", "task": self.task, "worker": self.worker, "level": level, "msg": msg,
                "timestamp": self._last_ts}


class Console:
    """Where every line goes: masked once, echoed here (and to the log file), then sent (when streaming)."""

    def __init__(self, redact: Redactor, out: TextIO = sys.stdout, stream: LogStream | None = None,
                 log_file: TextIO | None = None):
        self.redact, self.out, self.stream, self.log_file = redact, out, stream, log_file
        self._lock = threading.Lock()

    def line(self, text: str, level: str = "DEBUG", new_event: bool = False) -> None:
        safe = self.redact(text)
        with self._lock:
            try:
                self.out.write(safe + "\n")
                self.out.flush()
            except (OSError, ValueError):
                pass   # our stdout is gone (the daemon's terminal closed): the server still gets the line
            if self.log_file is not None:
                self.log_file.write(safe + "\n")
                self.log_file.flush()
        stream = self.stream
        if stream is not None:
            stream.write(safe, level, new_event)

    def note(self, text: str, level: str = "INFO", new_event: bool = False) -> None:
        """An agent message: each of its lines."""
        for n, part in enumerate(str(text).splitlines() or [""]):
            self.line(part, level, new_event and n == 0)


class OutputPump:
    """A thread reading the task's output pipe into a sink until the pipe closes (every writer gone)."""

    def __init__(self, fd: int, splitter: LineSplitter, sink: Callable[[str], None], partial_after: float = 1.0):
        self.fd, self.splitter, self.sink, self.partial_after = fd, splitter, sink, max(0.05, partial_after)
        self._thread = threading.Thread(target=self._run, name="output-pump", daemon=True)

    def start(self) -> "OutputPump":
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """True once the pipe is drained and closed."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], self.partial_after)
                if not ready:
                    self._emit(self.splitter.flush_partial())
                    continue
                data = os.read(self.fd, 65536)
                if not data:
                    break
                self._emit(self.splitter.feed(data))
        except OSError:
            pass  # the pipe was closed under us (a leftover process kept it open past our patience)
        finally:
            self._emit(self.splitter.finish())

    def _emit(self, lines: list[str]) -> None:
        for line in lines:
            self.sink(line)
