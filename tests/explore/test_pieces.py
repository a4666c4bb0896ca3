"""The explorer's pure parts: names, normalization, signatures, the model, shrinking.

No server here: these take arrivals as the codec produces them (``Packet``,
admin replies) and check what a comparison or an invariant makes of them.
The shrinker gets a replay function that decides reproduction by the
operations alone, since the search itself is what is tested.
"""

from __future__ import annotations

from gearcheck.explore.compare import context, difference, signature
from gearcheck.explore.generator import ACTORS, Generator
from gearcheck.explore.lane import AdminReply
from gearcheck.explore.model import Model
from gearcheck.explore.names import Names
from gearcheck.explore.normalize import Normalizer
from gearcheck.explore.ops import Op, ops_from_json, ops_to_json, sends
from gearcheck.explore.replay import Finding, Trace
from gearcheck.explore.shrink import shrink
from gearcheck.protocol import Magic, Packet, PacketType

T = PacketType


def _res(ptype: PacketType, *args: bytes | str) -> Packet:
    return Packet.build(ptype, *args, magic=Magic.RES)


def test_names_are_the_engine_placeholders_and_come_back_as_them() -> None:
    names = Names("gxt1")
    assert names.function("f1") == b"gc.gxt1.x.f1"
    assert names.symbolize(names.function("f2") + b"\t1\t0\t1") == "${fn:f2}\t1\t0\t1"
    assert names.symbolize(names.unique("u1")) == "${uniq:u1}"
    assert names.symbolize(names.client_id("w1", 2, "b")) == "${fn}.id-w1.2b"
    assert names.symbolize(b"a${b") == "a$${b"
    assert names.symbolize(b"\xff") == "hex:ff"


def test_handles_become_symbols_in_first_seen_order_and_keep_extra_bytes() -> None:
    norm = Normalizer(Names("gxt2"))
    assert norm.packet(_res(T.JOB_CREATED, b"H:host:7")) == ("JOB_CREATED", "${h1}")
    assert norm.packet(_res(T.JOB_CREATED, b"H:host:9")) == ("JOB_CREATED", "${h2}")
    assert norm.packet(_res(T.WORK_FAIL, b"H:host:7\0")) == ("WORK_FAIL", "${h1}\0")
    # an unknown handle in a result is not a new job: it stays as text
    assert norm.packet(_res(T.WORK_FAIL, b"H:other:1")) == ("WORK_FAIL", "H:other:1")


def test_admin_lists_keep_our_rows_only_sorted_with_fd_and_address_dropped() -> None:
    names = Names("gxt3")
    norm = Normalizer(names)
    f1, f2 = names.function("f1"), names.function("f2")
    status = AdminReply("status", (f2 + b"\t1\t0\t1", b"someone.else\t5\t5\t5", f1 + b"\t0\t0\t0",
                                   b"."))
    assert norm.admin(status) == ("admin", "status", "${fn:f1}\t0\t0\t0", "${fn:f2}\t1\t0\t1",
                                  ".")
    wid = names.client_id("w1", 0)
    workers = AdminReply("workers", (b"33 127.0.0.1 " + wid + b" : " + f2 + b" " + f1,
                                     b"34 127.0.0.1 - :", b"."))
    assert norm.admin(workers) == ("admin", "workers", "* * ${fn}.id-w1 : ${fn:f1} ${fn:f2}",
                                   ".")
    assert norm.observe({"w1": [_res(T.NOOP), _res(T.NOOP)], "c1": []}) == {"w1": (("NOOP",),)}


def test_a_signature_names_the_operation_then_the_shapes_or_fields_that_differ() -> None:
    op = Op(3, "grab", actor="w1", packet="GRAB_JOB")
    diff = difference({"a": {"w1": (("JOB_ASSIGN", "${h1}", "${fn:f1}", "x"),)},
                       "b": {"w1": (("JOB_ASSIGN", "${h2}", "${fn:f2}", "x"),)}})
    assert diff is not None
    assert signature(op, diff) == "GRAB_JOB -> worker: JOB_ASSIGN.function,handle"
    diff = difference({"a": {"c1": (("WORK_FAIL", "${h1}"), ("WORK_FAIL", "${h1}"),
                                    ("JOB_CREATED", "${h2}"))},
                       "b": {"c1": (("ERROR", "QUEUE_ERROR", "Job queue is full"),)}})
    assert diff is not None
    assert signature(Op(4, "submit", actor="c1", packet="SUBMIT_JOB"), diff) == \
        "SUBMIT_JOB -> client: a=WORK_FAIL*+JOB_CREATED b=ERROR(QUEUE_ERROR)"
    assert difference({"a": {"c1": (("NOOP",),)}, "b": {"c1": (("NOOP",),)}}) is None


def test_context_says_a_maxqueue_came_before_its_function_existed() -> None:
    ops = [Op(0, "admin", actor="adm", text="maxqueue {fn} {number}", fn="f1", number=1),
           Op(1, "submit", actor="c1", packet="SUBMIT_JOB", fn="f1")]
    features = context(ops)
    assert "maxqueue before the function exists" in features and "functions:1" in features
    assert "maxqueue before the function exists" not in context(ops[::-1])


def _model_after(steps: list[tuple[Op, dict[str, tuple[tuple[str, ...], ...]]]]) -> list[str]:
    model = Model(list(ACTORS))
    broken: list[str] = []
    for op, obs in steps:
        broken += [v.invariant for v in model.apply(op, obs)]
    return broken


def test_model_flags_a_second_result_a_background_report_and_a_reused_handle() -> None:
    submit = Op(0, "submit", actor="c1", packet="SUBMIT_JOB", fn="f1", unique="u1")
    created = {"c1": (("JOB_CREATED", "${h1}"),)}
    cancel = Op(1, "admin", actor="adm", text="cancel job {job}", job=0)
    assert _model_after([(submit, created),
                         (cancel, {"adm": (("admin", "cancel", "OK"),),
                                   "c1": (("WORK_FAIL", "${h1}"),)}),
                         (cancel, {"adm": (("admin", "cancel", "OK"),),
                                   "c1": (("WORK_FAIL", "${h1}"),)})]) == \
        ["foreground-completes-once"]
    bg = Op(0, "submit", actor="c1", packet="SUBMIT_JOB_BG", fn="f1")
    grab = Op(1, "grab", actor="w1", packet="GRAB_JOB")
    done = Op(2, "work", actor="w1", packet="WORK_COMPLETE", job=0)
    assert _model_after([(bg, created), (grab, {"w1": (("JOB_ASSIGN", "${h1}", "f", ""),)}),
                         (done, {"c1": (("WORK_COMPLETE", "${h1}", ""),)})]) == \
        ["background-not-reported"]
    other = Op(1, "submit", actor="c2", packet="SUBMIT_JOB", fn="f2", unique="u1")
    assert _model_after([(submit, created), (other, {"c2": (("JOB_CREATED", "${h1}"),)})]) == \
        ["handle-twice"]
    same = Op(1, "submit", actor="c2", packet="SUBMIT_JOB", fn="f1", unique="u1")
    assert _model_after([(submit, created), (same, {"c2": (("JOB_CREATED", "${h1}"),)})]) == []


def test_model_flags_a_sleeper_left_asleep_and_counts_that_do_not_add_up() -> None:
    can = Op(0, "can_do", actor="w1", packet="CAN_DO", fn="f1")
    sleep = Op(1, "pre_sleep", actor="w1", packet="PRE_SLEEP")
    submit = Op(2, "submit", actor="c1", packet="SUBMIT_JOB_BG", fn="f1")
    created = {"c1": (("JOB_CREATED", "${h1}"),)}
    assert _model_after([(can, {}), (sleep, {}), (submit, created)]) == ["sleeper-woken"]
    assert _model_after([(can, {}), (sleep, {}),
                         (submit, {**created, "w1": (("NOOP",),)})]) == []
    status = Op(0, "admin", actor="adm", text="status")
    prio = Op(1, "admin", actor="adm", text="prioritystatus")
    assert _model_after([(status, {"adm": (("admin", "status", "f\t4294967295\t0\t0", "."),)})
                         ]) == ["status-counts"]
    assert _model_after([(status, {"adm": (("admin", "status", "f\t3\t1\t0", "."),)}),
                         (prio, {"adm": (("admin", "prioritystatus", "f\t1\t0\t0\t0", "."),)})
                         ]) == ["status-adds-up"]


def test_operations_round_trip_through_json_and_name_jobs_by_submission() -> None:
    ops = [Op(0, "submit", actor="c1", packet="SUBMIT_JOB_EPOCH", fn="f1", epoch=-30, data="x"),
           Op(1, "work", actor="w1", packet="WORK_STATUS", job=0, number=2)]
    assert ops_from_json(ops_to_json(ops)) == ops
    names = Names("gxt4")
    [status] = sends(ops[1], names, {0: b"H:h:1"}.get)
    assert status == Packet.build(T.WORK_STATUS, b"H:h:1", b"2", b"4")
    assert sends(Op(2, "admin", actor="adm", text="cancel job {job}", job=0), names,
                 {0: b"H:h:1"}.get) == [b"cancel job H:h:1\n"]


def test_the_generator_is_a_function_of_seed_sequence_and_what_the_servers_said() -> None:
    caps = {"packet:SUBMIT_JOB", "packet:GRAB_JOB", "packet:CAN_DO", "packet:WORK_COMPLETE",
            "admin:status", "packet:PRE_SLEEP"}

    def run(seed: int) -> list[Op]:
        gen, model, out = Generator(seed, 3, caps), Model(list(ACTORS)), []
        while not gen.done():
            op = gen.next(model)
            model.apply(op, {})
            out.append(op)
        return out

    assert run(1) == run(1)
    assert run(1) != run(2)
    kinds = {op.packet or op.kind for s in range(20) for op in run(s)}
    assert "SUBMIT_JOB_BG" not in kinds and {"SUBMIT_JOB", "GRAB_JOB", "admin"} <= kinds


def test_shrinking_keeps_only_the_operations_the_finding_needs() -> None:
    ops = [Op(i, "echo", actor="c1", packet="ECHO_REQ") for i in range(12)]
    needed = {2, 7, 11}

    def replay(candidate: list[Op]) -> Trace:
        trace = Trace(Names("gxs"), ["a"], [], {})
        from gearcheck.explore.replay import Step
        trace.steps = [Step(op) for op in candidate]
        ids = {op.id for op in candidate}
        if needed <= ids and candidate[-1].id == 11:
            trace.finding = Finding("divergence", len(candidate) - 1, "sig", None, {})
        return trace

    first = replay(ops)
    result = shrink(first, replay, max_trials=500)
    assert [op.id for op in result.trace.ops] == [2, 7, 11]
    assert result.complete and result.trials < 100
