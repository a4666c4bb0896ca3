"""gearcheck.robustness: does a server survive hostile input, and does the suite bite?

Modules, each with one job:
  loopback         refuse to point destructive tools at anything but this machine
  health           the sentinel: is the server still answering, how many connections, RSS
  fuzz_strategies  hypothesis strategies that build hostile inputs from the packet table
  fuzz_exec        play one input against a server over real sockets
  shrink           delta debugging: the smallest input that still reproduces a finding
  fuzz_run         the fuzz loop: generate, play, check, shrink, save reproducers
  reproducer       a finding saved as hex plus a YAML case
  mutations        the catalogue of protocol defects a mutant server has
  mutant_proxy     an asyncio proxy that applies one mutation to a correct server's traffic
  mutants_run      run the suite once per mutation and score it
"""
