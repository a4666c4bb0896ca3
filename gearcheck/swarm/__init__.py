"""gearcheck.swarm: Locust swarms of Gearman clients and workers, from YAML profiles.

Strategy: Locust supplies the swarm (users, shapes, distribution, UI, HTML/CSV);
everything Locust lacks for a job server lives here, one job per module:

  units       durations, sizes and distributions as written in profiles
  profile     YAML profile -> validated dataclasses, errors with file:line
  jobids      the job id that travels in every payload
  latency     microsecond HDR histograms, encoded for merging across processes
  ledger      the invariants, judged so that one faulty reply is blamed once
  collector   one process's measurements (observations counted, written in bulk),
              shipped to and merged on the master
  locust_stats  n identical requests into Locust's statistics, exactly
  client      the client user: pipelined submits, closed or open arrivals
  worker      the worker user: opens, registers and reopens its connection
  worker_pool every worker connection of a process, served by one greenlet
  poller      the server's own view (admin ``status``) during the run
  shape       profile stages (or a capacity search) -> LoadTestShape, then a drain
              and a final flush
  capacity    the SLO grammar and the capacity search's steps
  hooks       the Locust event wiring used by the locustfile (progress, web UI)
  thresholds  pass/fail of the profile's thresholds
  cpu         CPU seconds of both sides from /proc; pinning to cores
  summary     summary.json; plots: the PNGs; runner: ``gearcheck load``; bench
"""
