"""Working-hours specs (``--uptime`` / ``--downtime``): every form of clearml-agent's "<hours> <days>" syntax,
evaluated against a fixed clock. 2026-11-23 is a Monday."""
from __future__ import annotations

from datetime import datetime

import pytest

from trackside.agent.schedule import Schedule, ScheduleError, from_settings

MON, TUE, WED, THU, FRI, SAT, SUN = (23, 24, 25, 26, 27, 28, 29)  # days of November 2026


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute)


UP = [
    # spec, moments on, moments off
    ("17-20 TUE", [at(TUE, 17), at(TUE, 19, 59)], [at(TUE, 16, 59), at(TUE, 20), at(MON, 18), at(WED, 18)]),
    ("09-13 TUE", [at(TUE, 9), at(TUE, 12, 30)], [at(TUE, 13), at(TUE, 8)]),
    ("9-12,14-18 MON-FRI", [at(MON, 9), at(FRI, 17)], [at(MON, 12), at(WED, 13), at(SAT, 10), at(SUN, 15)]),
    ("20 SAT", [at(SAT, 20), at(SAT, 23, 59)], [at(SAT, 19), at(SUN, 0)]),        # a single hour: to midnight
    ("22-2 FRI", [at(FRI, 22), at(FRI, 23), at(SAT, 0), at(SAT, 1, 59)], [at(SAT, 2), at(FRI, 21), at(FRI, 1)]),
    ("22-24 FRI 0-2 SAT", [at(FRI, 23), at(SAT, 1)], [at(SAT, 2), at(FRI, 21)]),  # the same, as two spans
    ("18-0 SUN", [at(SUN, 18), at(SUN, 23)], [at(MON, 0), at(SUN, 17)]),         # an end of 0 is midnight
    ("22-6 SUN", [at(SUN, 23), at(MON, 5)], [at(MON, 6)]),                       # into the next week
    ("8-10 SAT,SUN", [at(SAT, 8), at(SUN, 9)], [at(MON, 9), at(FRI, 9)]),
    ("0-24 FRI-MON", [at(FRI, 0), at(SAT, 12), at(SUN, 12), at(MON, 23)], [at(TUE, 12), at(THU, 23)]),  # wraps
    ("0-24 SUN-SAT", [at(d, h) for d in (MON, WED, SUN) for h in (0, 12, 23)], []),
    ("17-20 tue", [at(TUE, 18)], [at(MON, 18)]),                                 # day names in any case
]


# Every example of clearml-agent's "Scheduling Working Hours" page, with the meaning it gives.
DOCUMENTED = [
    # 8 PM to 11 PM on Sundays
    (["20-23 SUN"], [at(SUN, 20), at(SUN, 22, 59)], [at(SUN, 19, 59), at(SUN, 23), at(MON, 21), at(SAT, 21)]),
    # 8 PM to 11 PM on Sundays and Tuesdays
    (["20-23 SUN,TUE"], [at(SUN, 21), at(TUE, 21)], [at(MON, 21), at(WED, 21), at(TUE, 23)]),
    # 8 PM to 11 PM on Sundays, Mondays and Tuesdays (SUN-TUE crosses the end of datetime's Monday-first week)
    (["20-23 SUN-TUE"], [at(SUN, 20), at(MON, 22), at(TUE, 21)], [at(WED, 21), at(SAT, 21), at(MON, 19)]),
    # a single hour: 8 PM to midnight on Sundays
    (["20 SUN"], [at(SUN, 20), at(SUN, 23, 59)], [at(SUN, 19, 59), at(MON, 0), at(SAT, 20)]),
    # 8 PM to midnight and midnight to 8 AM on Sundays (the span from hour 0 counts: the reference skips it)
    (["20-00,00-08 SUN"], [at(SUN, 0), at(SUN, 7, 59), at(SUN, 20), at(SUN, 23)],
     [at(SUN, 8), at(SUN, 19), at(MON, 0), at(SAT, 23)]),
    # 8 PM on Sundays to 8 AM on Mondays: over midnight as two specs
    (["20-00 SUN", "00-08 MON"], [at(SUN, 20), at(SUN, 23, 59), at(MON, 0), at(MON, 7, 59)],
     [at(SUN, 19), at(MON, 8), at(MON, 20)]),
    # the configuration file's example: agent.uptime: ["17-20 SUN-TUE", "13-22 WED"]
    (["17-20 SUN-TUE", "13-22 WED"], [at(SUN, 17), at(MON, 19), at(TUE, 18), at(WED, 13), at(WED, 21, 59)],
     [at(SUN, 20), at(WED, 22), at(WED, 12), at(THU, 18), at(SAT, 18)]),
]


@pytest.mark.parametrize("specs,on,off", DOCUMENTED, ids=[" + ".join(case[0]) for case in DOCUMENTED])
def test_every_documented_example_means_what_the_documentation_says(specs, on, off):
    uptime, downtime = Schedule.parse(specs, uptime=True), Schedule.parse(specs, uptime=False)
    assert [m for m in on if not uptime.is_active(m)] == []
    assert [m for m in off if uptime.is_active(m)] == []
    assert not any(downtime.is_active(m) for m in on) and all(downtime.is_active(m) for m in off)


def test_the_midnight_span_is_the_same_as_one_spec_or_two():
    """"22-2 FRI" (one span past midnight) is "22-24 FRI" plus "0-2 SAT"; Sunday's runs into Monday."""
    assert Schedule.parse(["22-2 FRI"], uptime=True).on_hours == Schedule.parse(["22-24 FRI", "0-2 SAT"], uptime=True).on_hours
    assert Schedule.parse(["20-8 SUN"], uptime=True).on_hours == Schedule.parse(["20-00 SUN", "00-08 MON"], uptime=True).on_hours


@pytest.mark.parametrize("spec,on,off", UP, ids=[case[0] for case in UP])
def test_uptime_is_on_exactly_in_the_listed_hours(spec, on, off):
    schedule = Schedule.parse([spec], uptime=True)
    assert [m for m in on if not schedule.is_active(m)] == []
    assert [m for m in off if schedule.is_active(m)] == []


@pytest.mark.parametrize("spec,on,off", UP, ids=[case[0] for case in UP])
def test_downtime_is_the_complement(spec, on, off):
    schedule = Schedule.parse([spec], uptime=False)
    assert not any(schedule.is_active(m) for m in on)
    assert all(schedule.is_active(m) for m in off)


def test_several_specs_add_up_whether_given_as_one_string_or_many():
    many = Schedule.parse(["17-20 TUE", "10-12 SAT"], uptime=True)
    words = Schedule.parse(["17-20", "TUE", "10-12", "SAT"], uptime=True)   # --uptime 17-20 TUE 10-12 SAT
    assert many.on_hours == words.on_hours
    assert many.is_active(at(TUE, 18)) and many.is_active(at(SAT, 11)) and not many.is_active(at(SAT, 13))
    assert many.specs == ("17-20 TUE", "10-12 SAT")


def test_next_change_is_the_hour_the_state_flips():
    schedule = Schedule.parse(["17-20 TUE"], uptime=True)
    assert schedule.next_change(at(TUE, 15, 42)) == at(TUE, 17)
    assert schedule.next_change(at(TUE, 18, 5)) == at(TUE, 20)
    assert schedule.next_change(at(WED, 1)) == datetime(2026, 12, 1, 17)  # next Tuesday
    assert Schedule.parse(["0-24 SUN-SAT"], uptime=True).next_change(at(MON, 3)) is None


@pytest.mark.parametrize("spec,complaint", [
    ("17-20", "pairs"),
    ("17-20 TUESDAY", "'TUESDAY'"),
    ("25 MON", "out of range"),
    ("17-20 MON-XYZ", "'MON-XYZ'"),
    ("a-b MON", "'a-b'"),
    ("5-5 MON", "empty span"),
    ("17-20 TUE extra", "pairs"),
    ("", "empty schedule"),
    ("20-23 SUN-", "'SUN-'"),
    ("20-23 SUN,,TUE", "days ''"),
    ("20-23 MON-TUE-WED", "'MON-TUE-WED'"),
    ("24 MON", "out of range"),
    ("9-12, MON", "hours ''"),
    ("-5 MON", "'-5'"),
    ("9-12 MON 25-26 TUE", "'25-26 TUE'"),  # several specs: the message names the bad one
])
def test_bad_specs_are_refused_naming_the_bad_part(spec, complaint):
    with pytest.raises(ScheduleError, match=complaint):
        Schedule.parse([spec], uptime=True)


def test_only_one_of_uptime_and_downtime():
    with pytest.raises(ScheduleError, match="only one"):
        from_settings(["17-20 TUE"], ["9-10 MON"])
    assert from_settings(None, None) is None
    assert from_settings([], ["9-10 MON"]).is_uptime is False
    assert from_settings(["9-10 MON"], None).describe() == "uptime: 9-10 MON"


def test_the_daemon_watcher_wakes_the_subscriber_when_the_hours_change():
    """An injected clock one second before the schedule opens: the watcher sleeps until then (no polling),
    publishes the new state and wakes the subscriber once."""
    from datetime import timedelta
    import threading
    import time

    from trackside.agent.daemon.working_hours import WorkingHours

    start_real, start_fake = time.monotonic(), at(TUE, 16, 59) + timedelta(seconds=59)
    calls, woke = [], threading.Event()
    hours = WorkingHours(Schedule.parse(["17-20 TUE"], uptime=True), lambda endpoint, data: calls.append(data),
                         "w1", clock=lambda: start_fake + timedelta(seconds=time.monotonic() - start_real))
    assert not hours.active()
    hours.start(on_change=woke.set)
    try:
        assert woke.wait(5) and hours.active()
    finally:
        hours.stop()
    values = [data["runtime_properties"][0].get("value") for data in calls]
    assert values == ["idle", "active", None]  # published at start, at the change, deleted at stop
