"""The process runtime: job queues (arq or in-process), the worker, jobs, the sweeper, Redis keys,
the API cache's freshness counters, and the composition root that wires a process together
(docs/architecture.md, "The runtime")."""
