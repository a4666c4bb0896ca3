"""gearcheck.engine: conformance scenarios as data, and the machinery that runs one case.

Modules, each with one job:
  schema      the scenario format as a JSON Schema (exported for editors)
  loader      files -> validated ``Scenario`` objects, or errors naming file:line:field
  values      ${placeholders} and byte values (text with escapes, hex, fill)
  matchers    argument / column matchers (exact, regex, len, any, capture, one_of)
  actors      one named connection of a case: pending events, transcript
  timing      deadlines scaled by the measured ECHO round trip, grace for LATE
  case_runtime  what one running case owns: actors, deadlines, captures
  waits       expect, expect_all, expect_silence, expect_close: LATE/TIMEOUT/CLOSED
  admin_steps admin exchanges, reply-row matching, wait_until
  steps       the interpreter: simple steps, repeat, alternatives, dispatch
  servers     the extra servers a case asks for, started or given
  runner      one scenario -> one ``CaseResult`` with verdict and evidence
  probe       the capability profile of a server, measured at run start
  mirrored    the harness as the server: accepted actors, mirrored magic, accept/assign

Running a whole suite (pytest, baselines, reports) is gearcheck.runs, one layer up.
"""
