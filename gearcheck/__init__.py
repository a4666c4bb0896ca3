"""gearcheck: conformance and load testing for Gearman job servers and client libraries.

Layers, bottom first; a module imports only from layers below its own
(tests/test_layers.py holds this order and checks every import):

    protocol -> wire -> results, yaml_positions, paths, progress, minimize -> testcerts
    -> targets -> engine -> report -> runs
    -> refserver, swarm, interop, robustness, record, explore, chaos (none importing another)
    -> commands -> cli
"""
