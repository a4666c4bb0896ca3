# ruff: noqa: E501  (scenario YAML inside strings reads best on one line per step)
"""A failure points at the field that differs: packet arguments, admin rows, any-order sets
and alternatives, against the real gearmand 1.1.20; and report.html marks those fields."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gearcheck.report.html_report import render_html
from gearcheck.results import RunReport, ServerInfo, Verdict
from gearcheck.wire import Address, Connection

from .conftest import summary

OTHERS = 30  # functions of someone else on the server


@pytest.fixture
def busy_server(gearmand_address: Address) -> Iterator[Address]:
    """gearmand with functions of another user listed in its status."""
    names = [f"someone.else.{n}" for n in range(OTHERS)]
    with Connection.open(gearmand_address, timeout=5) as conn:
        for name in names:
            conn.admin(f"create function {name}\r")
    yield gearmand_address
    with Connection.open(gearmand_address, timeout=5) as conn:
        for name in names:
            conn.admin(f"drop function {name}\r")


def differences(result) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return result.evidence["differences"]


def test_packet_arguments_name_the_field_with_expanded_expectations(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - send: {on: client, packet: GET_STATUS, args: {handle: "${h}"}}
  - expect: {on: client, packet: STATUS_RES, args: {handle: "${h}", known: "0", running: {one_of: ["0", "2"]}, numerator: {regex: "[0-9]+"}}}
""", gearmand_address)
    assert result.verdict is Verdict.FAIL, summary(result)
    assert result.message == 'client: STATUS_RES.known: expected "0", got "1"'
    handle = result.actual["args"]["handle"]
    assert result.expected["args"]["handle"] == f"{handle} (${{h}})"  # expanded, with its name
    [d] = differences(result)
    assert d["expected_path"] == ["args", "known"] and d["actual_path"] == ["args", "known"]


def test_wrong_argument_values_type_and_positional_args(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: OPTION_REQ, args: {option: bogus}}
  - expect: {on: client, packet: ERROR, args: ["unknown_option", {regex: "Nothing.*"}]}
""", gearmand_address)
    assert result.message.startswith('client: ERROR.code: expected "unknown_option", got '
                                     '"UNKNOWN_OPTION"; ERROR.text: expected a match of '
                                     '/Nothing.*/, got "Server does not'), result.message
    assert [d["expected_path"] for d in differences(result)] == [["args", 0], ["args", 1]]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: OPTION_REQ, args: {option: bogus}}
  - expect: {on: client, packet: OPTION_RES}
""", gearmand_address)
    assert result.message == ('client: expected OPTION_RES, got ERROR code="UNKNOWN_OPTION" '
                              'text="Server does not recognize given option"'), result.message


def test_admin_rows_show_the_cases_own_and_name_the_column(run_yaml, busy_server) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client, admin]
steps:
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - admin: {on: admin, command: status, reply: {filter: "${fn}", rows: [["${fn}", 0, 0, 0]]}}
""", busy_server)
    assert result.verdict is Verdict.FAIL, summary(result)
    own = result.expected["reply"]["filter"].split(" ")[0]
    assert result.message == f'admin: status row "{own}" TOTAL: expected "0", got "1"'
    assert result.actual[0] == [own, "1", "0", "0"]  # a row as its columns
    assert result.actual[1].startswith(f"... {OTHERS} row(s) of other functions not shown")
    assert result.actual[-1] == "."
    assert len(result.evidence["reply"]) >= OTHERS + 2  # the whole reply, in the evidence
    [d] = differences(result)
    assert d["expected_path"] == ["reply", "rows", 0, 1] and d["actual_path"] == [0, 1]


def test_admin_any_order_rows_point_at_the_nearest_row(run_yaml, busy_server) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client, worker, admin]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn:b}"}}
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn:a}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED}
  - wait_until: {on: admin, command: status, within: 2, reply: {contains: [["${fn:b}", 0, 0, 1]]}}
  - admin: {on: admin, command: status, reply: {contains: [["${fn:b}", 0, 0, 1], ["${fn:a}", 0, 0, 0]]}}
""", busy_server)
    assert result.verdict is Verdict.FAIL, summary(result)
    assert result.message.startswith('admin: status row "gc.') and \
        result.message.endswith('.a" TOTAL: expected "0", got "1"'), result.message
    shown = result.actual
    assert len(shown) == 4 and shown[2].startswith("... ")  # two own rows, the note, "."
    [d] = differences(result)
    assert d["expected_path"] == ["reply", "contains", 1, 1]
    row, column = d["actual_path"]  # type: ignore[misc]
    assert shown[row][0].endswith(".a") and shown[row][column] == "1"
    result = run_yaml("""actors: [admin]
steps:
  - wait_until: {on: admin, command: status, within: 0.2, reply: {filter: "${fn}", count: 1}}
""", busy_server)
    assert "never satisfied the condition within" in result.message
    assert result.message.endswith('status rows passing the filter: expected 1, got 0')


def test_any_order_packets_name_what_differs_and_what_never_came(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client, worker]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: client, packet: SUBMIT_JOB, args: {function: "${fn}", unique: "", data: "x"}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - send: {on: worker, packet: GRAB_JOB}
  - expect: {on: worker, packet: JOB_ASSIGN}
  - send: {on: worker, packets: [{packet: WORK_DATA, args: ["${h}", "d"]}, {packet: WORK_COMPLETE, args: ["${h}", "done"]}]}
  - expect_all:
      - {on: client, packet: WORK_DATA, args: {handle: "${h}", data: "d"}}
      - {on: client, packet: WORK_COMPLETE, args: {handle: "${h}", data: "dne"}, timeout: 0.2}
      - {on: worker, packet: NOOP}
""", gearmand_address)
    assert result.verdict is Verdict.FAIL, summary(result)
    assert result.message.endswith('client WORK_COMPLETE.data: expected "dne", got "done"; '
                                   'worker: expected NOOP, got nothing'), result.message
    first, second = differences(result)
    assert first["expected_path"] == [0, "args", "data"] and first["actual_path"] == [0, "args", "data"]
    assert second["expected_path"] == [1] and second["actual_path"] == []


def test_alternatives_say_how_each_one_differs(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: "abc"}}
  - alternatives:
      - verdict: PASS
        steps: [{expect: {on: client, packet: ECHO_RES, args: {data: "abd"}}}]
      - verdict: NON-STRICT
        steps: [{expect: {on: client, packet: ERROR}}]
""", gearmand_address)
    assert result.message == ('none of the 2 alternatives matched: (1, PASS) client: '
                              'ECHO_RES.data: expected "abd", got "abc"; (2, NON-STRICT) '
                              'client: expected ERROR, got ECHO_RES data="abc"')
    first, second = differences(result)
    assert first["alternative"] == 1 and first["expected_path"] == [0, "expected", "args", "data"]
    assert second["alternative"] == 2 and second["actual_path"] == ["type"]


def test_the_page_marks_the_fields_that_differ(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: "abc"}}
  - expect: {on: client, packet: ECHO_RES, args: {data: "a<b>"}}
""", gearmand_address)
    page = render_html(RunReport(server=ServerInfo(address=str(gearmand_address)),
                                 results=[result]))
    assert '<table class="differences">' in page
    assert "<code>ECHO_RES.data</code>" in page and "&#34;a&lt;b&gt;&#34;" in page
    assert page.count('<mark class="differs">&#34;abc&#34;</mark>') == 1   # actual JSON
    assert page.count('<mark class="differs">&#34;a&lt;b&gt;&#34;</mark>') == 1  # expected
