"""gearcheck.swarm: Locust swarms of Gearman clients and workers, from YAML profiles.

Strategy: Locust supplies the swarm (users, shapes, distribution, UI, HTML/CSV);
everything Locust lacks for a job server lives here, one job per module:

  units       durations, sizes and distributions as written in profiles
  profile     YAML profile -> validated dataclasses, errors with file:line
  jobids      the job id that travels in every payload
  latency     microsecond HDR histograms, encoded for merging across processes
  ledger      the invariants: every job executed once, every fg job one result
  collector   one process's measurements, shipped to and merged on the master
  client      the client user: pipelined submits, closed or open arrivals
  worker      the worker user: CAN_DO, PRE_SLEEP/NOOP, GRAB_JOB_UNIQ, results
  poller      the server's own view (admin ``status``) during the run
  shape       profile stages -> LoadTestShape, then a drain and a final flush
  hooks       the Locust event wiring used by the locustfile
  thresholds  pass/fail of the profile's thresholds
  summary     summary.json; plots: the PNGs; runner: ``gearcheck load``; bench
"""
