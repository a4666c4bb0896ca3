"""The checker on hand-written histories: every verdict kind, and the ambiguous cases apart.

Each story is the smallest history that should produce one verdict; the
asserts are on the counts and on which job got which verdict.
"""

from __future__ import annotations

from gearcheck.chaos.checker import FAILURE_KINDS, check
from gearcheck.chaos.plan import data_digest

from .histories import History


def test_a_job_that_ran_once_is_recovered() -> None:
    h = History().submit("j1").ack("j1", "H:1").run("j1", "H:1")
    j = check(h.events)
    assert j.verdicts == {"j1": "recovered"}
    assert j.counts["recovered"] == 1 and not j.failed and j.verdict == "PASS"


def test_an_acknowledged_job_that_never_ran_is_lost() -> None:
    h = History().submit("j1").ack("j1", "H:1").server("down", 1).server("up", 2)
    j = check(h.events)
    assert j.verdicts == {"j1": "lost"} and j.counts["lost"] == 1
    assert j.failures[0]["kind"] == "lost" and "H:1" in j.failures[0]["detail"]
    assert j.verdict == "FAIL"


def test_running_again_after_a_confirmed_completion_is_duplicated() -> None:
    h = (History().submit("j1").ack("j1", "H:1").run("j1", "H:1")
         .server("down", 1).server("up", 2).run("j1", "H:7", inc=2))
    j = check(h.events)
    assert j.verdicts == {"j1": "duplicated"} and j.counts["duplicated"] == 1


def test_running_again_after_an_unconfirmed_completion_is_retried_not_duplicated() -> None:
    h = (History().submit("j1").ack("j1", "H:1").run("j1", "H:1", confirm=False)
         .server("down", 1).server("up", 2).run("j1", "H:7", inc=2))
    j = check(h.events)
    assert j.verdicts == {"j1": "recovered"}
    assert j.counts["retried"] == 1 and not j.failed


def test_a_worker_killed_mid_job_then_a_second_run_is_a_plain_retry() -> None:
    h = (History().submit("j1").ack("j1", "H:1").run("j1", "H:1", complete=False)
         .run("j1", "H:1", worker="w2"))
    j = check(h.events)
    assert j.verdicts == {"j1": "recovered"} and not j.failed


def test_executions_of_nothing_submitted_refused_or_cancelled_are_unexpected() -> None:
    h = (History().run("j9", "H:9", payload=b"gc:j9;x")          # never submitted
         .submit("j2").refused("j2").run("j2", "H:2")             # refused, ran anyway
         .submit("j3").ack("j3", "H:3").cancel("j3", "H:3").run("j3", "H:3"))
    j = check(h.events)
    assert j.counts["unexpected"] == 3
    assert j.counts["refused"] == 1 and j.verdicts["j3"] == "cancelled"


def test_a_job_whose_unique_or_payload_came_back_changed_is_altered() -> None:
    h = (History().submit("j1", uniq=b"u" * 64).ack("j1", "H:1")
         .run("j1", "H:1", uniq=b"u" * 63, payload=b"\0gc:j1;payload"))
    j = check(h.events)
    assert j.counts["altered"] == 1 and j.verdicts["j1"] == "recovered"
    assert "(64 B) came back as" in j.failures[0]["detail"]


def test_a_result_for_another_job_is_wrong_client() -> None:
    h = (History().submit("j1", bg=False, uniq=b"a").ack("j1", "H:1")
         .submit("j2", bg=False, uniq=b"b", client=1).ack("j2", "H:2", client=1)
         .run("j1", "H:1", uniq=b"a").run("j2", "H:2", uniq=b"b")
         .result("j1", "H:1", "j2")                   # j1's client got j2's result
         .result("j2", "H:2", "j2", client=1)
         .result(None, "H:5", "j1", client=1))        # a result for nothing it waited for
    j = check(h.events)
    assert j.counts["wrong_client"] == 2


def test_coalesced_foreground_jobs_share_one_result() -> None:
    h = (History().submit("j1", bg=False, uniq=b"same").ack("j1", "H:1")
         .submit("j2", bg=False, uniq=b"same", client=1).ack("j2", "H:1", client=1)
         .run("j1", "H:1", uniq=b"same")
         .result("j1", "H:1", "j1").result("j2", "H:1", "j1", client=1))
    j = check(h.events)
    assert j.verdicts == {"j1": "recovered", "j2": "recovered"} and not j.failed


def test_a_low_job_handed_out_while_a_high_one_waits_breaks_priority() -> None:
    h = (History().submit("lo", prio="low").ack("lo", "H:1")
         .submit("hi", prio="high").ack("hi", "H:2")
         .run("lo", "H:1", t=2.0).run("hi", "H:2", t=3.0))
    j = check(h.events)
    assert j.counts["priority"] == 1 and "hi (high" in j.failures[0]["detail"]


def test_on_one_worker_any_later_start_of_the_higher_job_counts() -> None:
    h = (History().submit("lo", prio="low").ack("lo", "H:1")
         .submit("hi", prio="high").ack("hi", "H:2")
         .run("lo", "H:1", t=2.0).run("hi", "H:2", t=2.004))
    assert check(h.events).counts["priority"] == 1
    h = (History().submit("lo", prio="low").ack("lo", "H:1")
         .submit("hi", prio="high").ack("hi", "H:2")
         .run("lo", "H:1", t=2.0).run("hi", "H:2", worker="w2", t=2.004))
    assert check(h.events).counts["priority"] == 0, "two workers a few ms apart: a race"


def test_priority_is_not_judged_across_server_lives_or_for_coalesced_low_jobs() -> None:
    h = (History().submit("hi", prio="high").ack("hi", "H:2", inc=1)
         .submit("lo", prio="low", inc=2).ack("lo", "H:1", inc=2)
         .run("lo", "H:1", inc=2, t=2.0).run("hi", "H:9", inc=2, t=3.0))
    assert check(h.events).counts["priority"] == 0   # hi was acknowledged by an earlier life
    h = (History().submit("old", prio="low", uniq=b"u").ack("old", "H:3")
         .submit("new", prio="high", uniq=b"u").ack("new", "H:3")   # joins the low job
         .submit("mid", prio="normal").ack("mid", "H:4")
         .run("mid", "H:4", t=2.0).run("old", "H:3", uniq=b"u", t=3.0))
    assert check(h.events).counts["priority"] == 0


def test_an_epoch_job_run_before_its_time_is_early() -> None:
    h = (History().submit("e1", epoch=3, wall=1000.0, t=1.0).ack("e1", "H:1")
         .run("e1", "H:1", t=1.5))
    j = check(h.events)
    assert j.counts["early"] == 1
    h = (History().submit("e1", epoch=3, wall=1000.0, t=1.0).ack("e1", "H:1")
         .run("e1", "H:1", t=4.1))
    assert check(h.events).counts["early"] == 0


def test_a_server_that_dies_by_itself_or_will_not_start_is_a_crash() -> None:
    h = (History().server("crashed", 1, detail="gearmand: Assertion `x' failed.")
         .server("failed", 2, detail="ERROR column 3 is not type TEXT"))
    j = check(h.events)
    assert j.counts["crash"] == 2
    assert "Assertion" in j.failures[0]["detail"] and "TEXT" in j.failures[1]["detail"]


def test_submissions_cut_off_by_a_kill_are_ambiguous_and_counted_apart() -> None:
    h = (History().submit("j1").unknown("j1").run("j1", "H:1")     # in flight, it ran
         .submit("j2").unknown("j2"))                              # in flight, it did not
    j = check(h.events)
    assert j.counts["unknown"] == 2 and j.counts["unknown_executed"] == 1
    assert j.counts["acknowledged"] == 0 and not j.failed


def test_foreground_jobs_of_a_gone_client_are_not_owed_but_connected_ones_are() -> None:
    h = (History().submit("f1", bg=False, uniq=b"a").ack("f1", "H:1").orphaned("f1")
         .submit("f2", bg=False, uniq=b"b").ack("f2", "H:2").run("f2", "H:2", uniq=b"b"))
    j = check(h.events)
    assert j.verdicts == {"f1": "orphaned", "f2": "lost"}   # f2 ran, its client got nothing
    assert "never got WORK_COMPLETE" in j.failures[0]["detail"]


def test_a_cancel_ends_the_job_for_every_submission_coalesced_into_it() -> None:
    h = (History().submit("j1", uniq=b"rep").ack("j1", "H:1")
         .submit("j2", uniq=b"rep").ack("j2", "H:1").cancel("j2", "H:1"))
    j = check(h.events)
    assert j.verdicts == {"j1": "cancelled", "j2": "cancelled"} and not j.failed


def test_a_submission_coalesced_into_a_replayed_job_is_served_by_it() -> None:
    h = (History().submit("j1", uniq=b"rep").ack("j1", "H:1")
         .server("down", 1).server("up", 2)
         .submit("j2", uniq=b"rep", inc=2).ack("j2", "H:5", inc=2)   # joins the replayed j1
         .run("j1", "H:5", inc=2, uniq=b"rep"))
    j = check(h.events)
    assert j.verdicts == {"j1": "recovered", "j2": "recovered"} and not j.failed


def test_payloads_too_short_for_a_token_are_tied_by_fingerprint_and_unique() -> None:
    h = History()
    for job in ("z1", "z2"):
        h.submit(job, uniq=job.encode())
        h.events[-1]["dd"] = data_digest(b"")   # a 0-byte payload: no token in it
        h.ack(job, f"H:{job}")
    h.run(None, "H:z1", uniq=b"z1", payload=b"").run(None, "H:z2", uniq=b"z2", payload=b"")
    j = check(h.events)
    assert j.verdicts == {"z1": "recovered", "z2": "recovered"} and not j.failed


def test_every_failure_kind_has_a_story_here() -> None:
    told = {"crash", "lost", "duplicated", "unexpected", "wrong_client", "altered",
            "priority", "early", "refused"}
    assert set(FAILURE_KINDS) == told
