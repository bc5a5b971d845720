"""What turns configs into result files: the experiment, baseline, latency and theorem pipelines,
the evaluation cache and the stored results."""
