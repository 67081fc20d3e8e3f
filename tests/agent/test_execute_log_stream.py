"""The console pipeline without a server: bytes -> lines (LineSplitter), lines -> batched log events
(LogStream) against a fake ``events.add_batch`` that can be slow or down."""
from __future__ import annotations

import threading
import time

from trackside.agent.execute import log_stream
from trackside.agent.execute.log_stream import LineSplitter, LogStream


# -- lines ------------------------------------------------------------------------------------------------
def test_lines_are_cut_at_newlines_across_chunks_and_utf8_split_in_two_survives():
    splitter = LineSplitter()
    euro = "€".encode()
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o\n" + euro[:1]) == ["two"]
    assert splitter.feed(euro[1:] + b"\r\n") == ["€"]
    assert splitter.feed(b"no newline at the end") == []
    assert splitter.finish() == ["no newline at the end"]


def test_carriage_return_frames_show_the_last_frame_and_a_live_bar_frame_by_frame():
    splitter = LineSplitter()
    assert splitter.feed(b"10%\r50%\r100%\n") == ["100%"]
    assert splitter.feed(b"\r 1/3") == []
    assert splitter.feed(b"\r 2/3\r 3") == []
    assert splitter.flush_partial() == [" 3"]            # the frame being drawn
    assert splitter.flush_partial() == []                # not twice
    assert splitter.feed(b"/3\r\n") == [" 3/3"]
    assert splitter.feed(b"\rdone\r\n") == ["done"]
    plain = LineSplitter(suppress_cr=False)
    assert plain.feed(b"a\rb\r\nc\n") == ["a", "b", "c"]


def test_a_partial_line_is_shown_while_unfinished_and_its_end_follows():
    splitter = LineSplitter()
    assert splitter.feed(b"Epoch 1: ") == []
    assert splitter.flush_partial() == ["Epoch 1: "]
    assert splitter.feed(b"loss 0.5\n") == ["loss 0.5"]
    assert splitter.feed(b"prompt> ") == [] and splitter.flush_partial() == ["prompt> "]
    assert splitter.feed(b"\n") == []                    # nothing new to show


def test_an_endless_line_is_cut_so_memory_stays_bounded():
    splitter = LineSplitter(max_line=10)
    lines = splitter.feed(b"x" * 25) + splitter.feed(b"y" * 3 + b"\n")
    assert "".join(lines) == "x" * 25 + "yyy" and all(len(line) <= 10 for line in lines)
    assert splitter.feed(b"z" * 35 + b"\n") == ["z" * 10] * 3 + ["z" * 5]


# -- events -----------------------------------------------------------------------------------------------
class FakeServer:
    def __init__(self):
        self.calls: list[list[dict]] = []
        self.down = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, endpoint, events):
        assert endpoint == "events.add_batch"
        self.gate.wait(10)
        if self.down:
            raise ConnectionRefusedError("server down")
        self.calls.append(events)
        return {"added": len(events), "errors": 0}

    @property
    def events(self) -> list[dict]:
        return [e for call in self.calls for e in call]

    def lines(self) -> list[str]:
        return [line for e in self.events for line in e["msg"].split("\n")]


def test_lines_are_packed_per_level_into_ordered_events_and_flushed_on_close():
    server = FakeServer()
    stream = LogStream(server, "t1", "box:1", flush_sec=60).start()
    for i in range(5):
        stream.write(f"out {i}")
    stream.write("agent says", "INFO")
    stream.write("landmark", "INFO", new_event=True)
    stream.write("out 5")
    stream.close()
    events = server.events
    assert [(e["level"], e["msg"]) for e in events] == [
        ("DEBUG", "out 0\nout 1\nout 2\nout 3\nout 4"), ("INFO", "agent says"), ("INFO", "landmark"),
        ("DEBUG", "out 5")]
    assert all(e["type"] == "log" and e["task"] == "t1" and e["worker"] == "box:1" for e in events)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(set(stamps))                 # strictly increasing: read back in order


def test_a_large_batch_is_sent_before_the_interval_and_events_stay_under_the_size_limit(monkeypatch):
    monkeypatch.setattr(log_stream, "BATCH_LINES", 50)
    monkeypatch.setattr(log_stream, "MAX_EVENT_CHARS", 100)
    server = FakeServer()
    stream = LogStream(server, "t1", "w", flush_sec=60).start()
    for i in range(60):
        stream.write(f"line {i:03d} " + "x" * 20)
    deadline = time.monotonic() + 5
    while not server.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.calls, "a full batch waits for no timer"
    stream.close()
    assert all(len(e["msg"]) <= 100 for e in server.events)
    assert server.lines() == [f"line {i:03d} " + "x" * 20 for i in range(60)]


def test_a_slow_server_never_blocks_the_writer_and_the_oldest_lines_are_dropped_with_a_notice():
    server = FakeServer()
    server.gate.clear()                                  # every call hangs until the gate opens
    stream = LogStream(server, "t1", "w", flush_sec=0.05, max_lines=100).start()
    stream.write("first")
    time.sleep(0.2)                                      # the sender is now stuck inside a call
    began = time.monotonic()
    for i in range(1000):
        stream.write(f"line {i}")
    assert time.monotonic() - began < 0.5
    server.gate.set()
    stream.close()
    lines = server.lines()
    assert lines[0] == "first"
    assert "[trackside-agent] 900 console line(s) dropped: the server was not keeping up" in lines
    assert lines[-100:] == [f"line {i}" for i in range(900, 1000)]
    assert stream.dropped_total == 900


def test_lines_wait_while_the_server_is_down_and_are_sent_when_it_is_back():
    server = FakeServer()
    server.down = True
    problems = []
    stream = LogStream(server, "t1", "w", flush_sec=0.05, on_problem=problems.append).start()
    stream.write("kept 1")
    stream.write("kept 2")
    time.sleep(0.3)
    assert server.calls == [] and len(problems) == 1     # said once, not at every try
    server.down = False
    stream.close()
    assert server.lines() == ["kept 1", "kept 2"]
