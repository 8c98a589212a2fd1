"""The worker hands its Runtime to each job in memory; what Redis stores of a job stays its path and ids."""
from __future__ import annotations

import pickle
from functools import partial
from pathlib import Path
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


def test_a_worker_that_redis_lost_registers_again(tmp_path: Path) -> None:
    """Redis restarted without its data: the worker keeps working and, at its next maintenance, is listed again
    (`hotline status` counts the workers Redis lists)."""
    from types import SimpleNamespace

    from rq import Queue, Worker

    from hotline.worker.rqworker import HotlineWorker
    from tests.support.redis_server import redis_server

    runtime: Any = SimpleNamespace(ctx=SimpleNamespace(settings=SimpleNamespace(
        transcription=SimpleNamespace(sweep_seconds=10))), engine=lambda: object())
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url)
        worker = HotlineWorker([Queue("q", connection=client)], connection=client, runtime=runtime)
        worker.register_birth()
        assert [w.name for w in Worker.all(connection=client)] == [worker.name]
        client.flushall()                      # what a restarted Redis without persistence holds
        worker.heartbeat()                     # RQ's own refresh writes the hash, not the registration
        assert Worker.all(connection=client) == []
        worker.register_again()
        assert [w.name for w in Worker.all(connection=client, queue=Queue("q", connection=client))] == [worker.name]
        worker.register_again()                # registered: nothing to do
        assert len(Worker.all(connection=client)) == 1
        client.close()


class Owner:
    """Pickled, it runs ``touch`` when unpickled: what a pickle-reading worker would do before any check."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        import os
        return (os.system, (f"touch {self.path}",))


def test_a_job_naming_any_other_function_is_refused_and_never_run(tmp_path: Path) -> None:
    """Whoever can write to Redis queues ``os.system``, or a pickle that runs it when read: the worker fails
    the first without running it and never unpickles the second, and goes on working (issue 13)."""
    from types import SimpleNamespace

    from rq import Queue
    from rq.job import JobStatus
    from rq.serializers import JSONSerializer

    from hotline.adapters.jobqueue import JOBS
    from hotline.worker.rqworker import ALLOWED_JOBS, HotlineWorker
    from tests.support.redis_server import redis_server

    owned, unpickled = tmp_path / "owned", tmp_path / "unpickled"
    runtime: Any = SimpleNamespace(ctx=SimpleNamespace(settings=SimpleNamespace(
        transcription=SimpleNamespace(sweep_seconds=10))), engine=lambda: object())
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        Queue("q", connection=client).enqueue("hotline.worker.jobs.milestone", Owner(unpickled), "remind_50")
        queue = Queue("q", connection=client, serializer=JSONSerializer)     # as the hotline's JobQueue writes
        bad = [queue.enqueue("os.system", f"touch {owned}"),
               queue.enqueue("subprocess.run", ["touch", str(owned)]),
               queue.enqueue("hotline.worker.jobs.Runtime.build")]
        worker = HotlineWorker([queue], connection=client, runtime=runtime)
        worker.work(burst=True)
        for job in bad:                     # read after the pickled one: the worker went on
            job.refresh()
            assert job.get_status() == JobStatus.FAILED
            assert "not one of the hotline's jobs: refused" in (job.latest_result().exc_string or "")
        assert not owned.exists() and not unpickled.exists()
        client.close()
    assert ALLOWED_JOBS == {f"{JOBS}.{name}" for name in ("transcribe_voicemail", "notify_assigned", "milestone",
                                                          "send_message", "answer_back", "text_code",
                                                          "retrain_suggestions")}


def test_the_worker_outlives_redis_going_away_while_it_runs_a_job(tmp_path: Path) -> None:
    """Redis stopped while a job runs, and started again empty: the job's work is done, the worker is still
    there, registers again and runs the next job (it used to quit: RQ writes a job's end to Redis outside its
    own retries; seen in CI as a message never transcribed after Redis came back)."""
    import subprocess
    import sys

    from rq import Queue, Worker
    from rq.job import JobStatus
    from rq.serializers import JSONSerializer

    from hotline.worker.rqworker import RuntimeJob
    from tests.support import rq_worker_proc
    from tests.support.redis_server import free_port, redis_server
    from tests.support.stack import wait_for

    port, log_path = free_port(), tmp_path / "worker.log"

    def queue(url: str) -> Queue:
        return Queue("q", connection=redis.Redis.from_url(url), job_class=RuntimeJob, serializer=JSONSerializer)

    def listed(url: str) -> bool:
        return len(Worker.all(connection=redis.Redis.from_url(url))) == 1

    with log_path.open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "tests.support.rq_worker_proc",
                                   f"redis://127.0.0.1:{port}/0", "q"],
                                  cwd=Path(__file__).resolve().parents[2], stdout=log, stderr=subprocess.STDOUT)
    try:
        with redis_server(tmp_path / "before", port=port) as url:
            wait_for(lambda: listed(url), 30, "the worker to register in Redis")
            job = queue(url).enqueue(rq_worker_proc.JOB, str(tmp_path / "first"), str(tmp_path / "release"))
            wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 15, "the job to start")
        (tmp_path / "release").touch()      # Redis is gone: the job ends now
        wait_for(lambda: "Redis went away during job" in log_path.read_text(), 20, "the job's end without Redis")
        assert (tmp_path / "first").exists() and worker.poll() is None, log_path.read_text()
        with redis_server(tmp_path / "after", port=port) as url:      # back, and empty
            wait_for(lambda: listed(url), 30, "the worker to register again")
            queue(url).enqueue(rq_worker_proc.JOB, str(tmp_path / "second"), str(tmp_path / "release"))
            wait_for(lambda: (tmp_path / "second").exists(), 30, "the next job to run")
            assert worker.poll() is None
            worker.terminate()
            assert worker.wait(20) == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
