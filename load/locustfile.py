"""Locust entry point for gearcheck load profiles, for running Locust by hand:

    GEARCHECK_PROFILE=load/profiles/steady-foreground.yaml \
    GEARCHECK_SERVER=127.0.0.1:4730 locust -f load/locustfile.py      # web UI on :8089

The locustfile itself ships in the package (gearcheck/swarm/locustfile.py), so an
installed gearcheck has it too; this file only makes the checkout's path work.
"""

from gearcheck.swarm.locustfile import *  # noqa: F403  (Locust looks for the user classes here)
