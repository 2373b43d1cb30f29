"""Dynamic batching: requests that wait together are generated together, in lanes that cannot starve each other.

    submit(job) ──▶ lane "short" (max_new_tokens <= 256, short prompt) ──▶ worker thread ──▶ generate_batch
                └─▶ lane "long"  (the rest)                           ──▶ worker thread ──▶ generate_batch

Each lane has its own worker thread, so a max_new_tokens=4096 request or a long speech prompt never
holds short requests; /health and the page are served by the event loop and never touch the model.
A worker takes the oldest job of its lane and every waiting job with the same settings
(`GenerateRequest.batch_key`: modality, sampling, speaker; a seeded request runs alone), up to
`max_batch`. The queue is bounded (`QueueFull` -> HTTP 429 with Retry-After). After every step the
`StepHook` streams each row's new token and stops rows that reached their own `max_new_tokens`,
whose client went away (`job.cancelled`) or whose time limit passed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .requests import GenerateRequest, RequestError
from .streaming import TokenStream

logger = logging.getLogger(__name__)

LONG_NEW_TOKENS = 256
LONG_PROMPT_IDS = 1024


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    req: GenerateRequest
    prompt: object  # generation.prompt.Prompt
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    arrived: float
    deadline: float
    stream: TokenStream | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    reason: str | None = None
    n_new: int = 0
    started: float | None = None

    @property
    def lane(self) -> str:
        long = self.req.max_new_tokens > LONG_NEW_TOKENS or len(self.prompt.ids) > LONG_PROMPT_IDS
        return "long" if long else "short"

    def resolve(self, value=None, error: Exception | None = None) -> None:
        def set_it():
            if not self.future.done():
                self.future.set_exception(error) if error is not None else self.future.set_result(value)
        self.loop.call_soon_threadsafe(set_it)


class StepHook:
    """A `transformers.StoppingCriteria`: after each step, stream each live row's token and say which rows stop."""

    def __init__(self, jobs: list[Job], width: int, stop_ids: set[int]):
        self.jobs, self.width, self.stop_ids = jobs, width, stop_ids
        self.done = [False] * len(jobs)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        step = input_ids.shape[1] - self.width
        last = input_ids[:, -1].tolist()
        now = time.perf_counter()
        for row, job in enumerate(self.jobs):
            if self.done[row]:
                continue
            job.n_new = step
            if job.stream is not None:
                job.stream.push(last[row])
            if last[row] in self.stop_ids:
                self.done[row] = True
            elif step >= job.req.max_new_tokens:
                self.done[row], job.reason = True, "length"
            elif job.cancelled.is_set():
                self.done[row], job.reason = True, "cancelled"
            elif now > job.deadline:
                self.done[row], job.reason = True, "time_limit"
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


class Batcher:
    """Owns the model's worker threads; `submit` from the event loop, results come back on each job's future."""

    def __init__(self, lm, render, max_batch: int = 8, max_queue: int = 64):
        if max_batch < 1 or max_queue < 1:
            raise ValueError(f"max_batch and max_queue must be >= 1, got {max_batch}, {max_queue}")
        self.lm, self.render = lm, render  # render(job, GenerationResult) -> response dict
        self.max_batch, self.max_queue = max_batch, max_queue
        self.lanes: dict[str, deque[Job]] = {"short": deque(), "long": deque()}
        self.cond = threading.Condition()
        self.closing = False
        self.busy = {lane: 0 for lane in self.lanes}
        self.avg_batch_s = 1.0
        self.threads = [threading.Thread(target=self._work, args=(lane,), name=f"spiritlm-{lane}", daemon=True)
                        for lane in self.lanes]
        for t in self.threads:
            t.start()

    def queued(self) -> int:
        return sum(len(q) for q in self.lanes.values())

    def submit(self, job: Job) -> None:
        with self.cond:
            if self.closing:
                raise RequestError("the server is shutting down", status=503)
            if self.queued() >= self.max_queue:
                batches = self.queued() / self.max_batch + 1
                raise QueueFull(max(1, round(batches * self.avg_batch_s / len(self.lanes))))
            self.lanes[job.lane].append(job)
            self.cond.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Finish what is queued and running, then stop the workers."""
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        for t in self.threads:
            t.join(timeout)

    def _take(self, lane: str) -> list[Job] | None:
        with self.cond:
            q = self.lanes[lane]
            while not q:
                if self.closing:
                    return None
                self.cond.wait()
            first = q.popleft()
            batch = [first]
            if first.req.seed is None:
                key = first.req.batch_key()
                for job in [j for j in q if j.req.batch_key() == key][: self.max_batch - 1]:
                    q.remove(job)
                    batch.append(job)
            self.busy[lane] = len(batch)
            return batch

    def _work(self, lane: str) -> None:
        while (batch := self._take(lane)) is not None:
            start = time.perf_counter()
            try:
                self._run(batch)
            except Exception as e:  # never let a worker die: fail this batch, keep serving
                logger.exception("batch of %d failed", len(batch))
                for job in batch:
                    job.resolve(error=e)
            finally:
                self.busy[lane] = 0
            self.avg_batch_s = 0.8 * self.avg_batch_s + 0.2 * (time.perf_counter() - start)

    def _run(self, batch: list[Job]) -> None:
        now = time.perf_counter()
        live = []
        for job in batch:
            if job.cancelled.is_set():
                job.resolve(error=RequestError("cancelled: the client went away", status=499))
            elif now > job.deadline:
                job.resolve(error=RequestError(f"waited {now - job.arrived:.1f} s in the queue, past this "
                                               "server's time limit; retry later", status=503))
            else:
                job.started = now
                live.append(job)
        if not live:
            return
        try:
            results = self._generate(live)
        except (ValueError, TypeError) as e:
            if len(live) > 1:  # one bad row must not fail the others: run them one by one
                for job in live:
                    self._run([job])
                return
            live[0].resolve(error=RequestError(str(e)))
            return
        for job, result in zip(live, results):
            self._finish(job, result)

    def _generate(self, jobs: list[Job]):
        from transformers import StoppingCriteriaList

        from ..generation.constraints import stop_ids
        from ..generation.types import OutputModality

        lm, req = self.lm, jobs[0].req
        modality = OutputModality.parse(req.output_modality)
        stops = set(stop_ids(lm.layout, modality, lm.tokenizer.eos_id, True, False))
        hook = StepHook(jobs, max(len(j.prompt.ids) for j in jobs), stops)
        synthesize = any(j.req.return_audio and j.stream is None for j in jobs)
        return lm.generate_batch([j.prompt for j in jobs], output_modality=modality,
                                 max_new_tokens=max(j.req.max_new_tokens for j in jobs), seed=req.seed,
                                 speaker_id=req.speaker_id, synthesize=synthesize,
                                 stopping_criteria=StoppingCriteriaList([hook]), **req.sampling)

    def _finish(self, job: Job, result) -> None:
        if job.reason is not None:
            result.finish_reason = job.reason
        try:
            body = self.render(job, result)
        except (ValueError, TypeError) as e:
            job.resolve(error=RequestError(str(e)))
            return
        if job.stream is not None:
            job.stream.end(lambda: job.resolve(body))
        else:
            job.resolve(body)
