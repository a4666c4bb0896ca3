"""gearcheck.record: real Gearman traffic recorded, then replayed as load or as a case.

Strategy: a trace (JSON lines, one record per packet, admin line or
connection event) is the only thing the parts share, so each can be used and
tested alone. Every byte is decoded by ``gearcheck.protocol``; nothing here
knows the wire format. One job per module:

  trace     the trace format, the sans-I/O recorder (bytes in, records out), reading
  proxy     the transparent recording proxy (asyncio; every byte passes unchanged)
  pcap      a tcpdump capture as the same trace (protocol.capture reassembles it)
  jobs      a trace as jobs: submissions, handles, executions, workers, admin
  workload  the figures of a workload: rate, mix, shares, size and time distributions
  derive    a trace as a load profile the swarm plays (``gearcheck replay-profile``)
  case      chosen connections as a conformance case (``gearcheck replay-case``)
"""
