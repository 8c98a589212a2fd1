"""The worker hands its Runtime to each job in memory; what Redis stores of a job stays its path and ids."""
from __future__ import annotations

import pickle
from functools import partial
from typing import Any

import redis

from hotline.worker import jobs
from hotline.worker.rqworker import RuntimeJob


def test_a_job_run_by_the_worker_gets_its_runtime_and_redis_never_sees_it() -> None:
    job = RuntimeJob.create("hotline.worker.jobs.milestone", args=(7, "remind_50"),
                            connection=redis.Redis(host="127.0.0.1", port=1))    # never connects
    assert job.func is jobs.milestone                        # outside a worker: the plain job function
    runtime: Any = object()
    job.runtime = runtime
    bound = job.func
    assert isinstance(bound, partial) and bound.func is jobs.milestone and bound.keywords == {"runtime": runtime}
    assert pickle.loads(job.data) == ("hotline.worker.jobs.milestone", None, (7, "remind_50"), {})
