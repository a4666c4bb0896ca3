"""gearcheck.explore: generated protocol sequences run on several servers side by side.

A seeded generator builds sequences of operations over several client, worker
and admin connections; each sequence runs on every server in lockstep, what
each server says is normalized and compared step by step, and model
invariants are checked on every server on its own. The first divergence (or
broken invariant) of a sequence is confirmed by a replay, shrunk to a minimal
sequence and written as a YAML case in the suite's format; divergences already
known (fixtures/baselines/explore.yaml, citing suite cases, baselines and
docs/refserver-vs-gearmand.md) are recognized by signature and not reported again.

Modules, each with one job:
  ops         the operations: what a step sends, and its JSON form
  names       the wire names of one sequence run (functions, uniques, ids) and back
  lane        one server's connections: send an operation, wait at a barrier, collect
  normalize   raw arrivals to comparable observations (handles, names, set order)
  model       per-server job/worker model and the invariants it checks
  generator   the seeded choice of the next operation from the model
  compare     observations of several servers: the first difference and its signature
  known       known divergences (fixtures/baselines/explore.yaml) and their matching
  replay      one sequence on every lane, step by step, to its first finding
  shrink      delta debugging of a finding's sequence
  casewriter  a shrunk finding as a conformance case (YAML)
  run         the time-bounded explore loop, reports and summary
  teeth       the mutant sweep: every mutation in front of gearmand must be found
"""
