"""The Tokenward load benchmark behind `bench/run.py` (`make bench`), one concern a module.

config        paths, constants, request bodies, targets, `Plan`, `BenchError`
procs         started processes, /proc readings, readiness polling, pipe lines
machine       whole-machine CPU (other processes, steal), quiet wait, run metadata
wrk           one wrk run (bench/wrk.lua) and its CPU bookkeeping
bench         `Bench`: the simulators, the gateways, the API key, load with retries
steps_core    startup, latency, throughput
profile       py-spy during load, summarised by function and module
rss           memory after many requests and with many streams open
translation   gateway CPU per request across the OpenAI and Anthropic dialects
guard         gateway CPU per request with the guard on and off; the micro-benchmarks
report        RESULTS.md: summary table, sections, notes, embedded data
cli           options, pre-flight, the run itself
"""
