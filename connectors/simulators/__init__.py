"""Simulated field devices that speak the real protocols (Modbus TCP, MQTT).

Used by the demo (``estateflow simulate``), the tests and the benchmarks: the connectors
are exercised against a real pymodbus server and a real broker, never mocks.
``meters`` hosts Modbus meters; ``devices`` holds MQTT doors, gates, cameras, hydrant
sensors and chargers; ``run`` drives both from a scenario file.
"""
