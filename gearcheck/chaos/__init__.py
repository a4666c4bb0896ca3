"""gearcheck.chaos: does every acknowledged job run, once, through faults? Judged job by job.

Modules, each with one job:
  plan          the seeded workload and fault schedule of a run, as data (replayable, shrinkable)
  history       JSON-lines events with times, one file per process, merged into one
  incarnation   which life of the server a connection belongs to (handles repeat after restarts)
  client        a client thread: pipelined submissions, results, cancels, going away
  worker        a worker process: grabs, works, completes, confirms (killed with -9 by a nemesis)
  worker_pool   the runner's side of the workers: start, kill one, replace, stop all
  nemesis       the faults (server, database, workers, clients) and the thread that injects them
  runner        one cell: server + queue back end + plan -> history.jsonl
  checker       history -> a verdict per acknowledged job (Jepsen's total-queue, and more)
  shrink        the smallest plan that still fails the same way, replayed with the same seed
  reproducer    a failure saved as a replayable plan and, where it fits, a YAML case
  baseline      known back-end defects (fixtures/baselines/chaos.yaml), each with its reason
  matrix        servers x back ends x nemeses, bounded in time, with the gate's exit code
  report        chaos.json and an HTML page with a timeline plot per cell
  soak          fill-and-drain cycles: memory back to its baseline, stuck jobs
"""
