"""The recorder keeps the validation measures beside the loss, and the row of the epoch early
stopping ended at even when the job records every Nth epoch only."""

import pytest
from sqlalchemy import delete, select

from engine import EpochStats
from store.db import sessions
from store.jobs import create_job
from store.models import EpochLoss, Job
from store.progress import ProgressRecorder, claim_job, finish_job
from tests.service.conftest import DATABASE_URL

pytestmark = pytest.mark.usefixtures("services")


def test_a_thinned_job_stopped_early_keeps_its_last_epoch_and_its_val_measures() -> None:
    factory = sessions(DATABASE_URL)
    with factory.begin() as session:
        job_id = create_job(session, {"training": {"epochs": 100}}, "records", "records-test").id
    try:
        with factory.begin() as session:
            claim = claim_job(session, job_id, 3, 60)
        assert claim is not None
        recorder = ProgressRecorder(factory, job_id, claim.attempt, 60, 1000, every=10, last=100)
        for epoch in range(1, 38):
            stats = EpochStats(epoch, 2.0 / epoch, 0.25, val_loss=1.0 / epoch, val_accuracy=0.5)
            recorder.add(stats, final=epoch == 37)
        recorder.flush()
        recorder.close()
        with factory.begin() as session:
            finish_job(session, job_id, claim.attempt, {"w": []}, stopped_epoch=37, best_epoch=27)
            rows = session.execute(
                select(EpochLoss).where(EpochLoss.job_id == job_id).order_by(EpochLoss.epoch)
            ).scalars()
            kept = [
                (r.epoch, r.loss, r.accuracy, r.rmse, r.val_loss, r.val_accuracy, r.val_rmse)
                for r in rows
            ]
            job = session.get_one(Job, job_id)
            assert (job.status, job.stopped_epoch, job.best_epoch) == ("succeeded", 37, 27)
        assert [k[0] for k in kept] == [1, 11, 21, 31, 37]
        assert all(k[1:] == (2.0 / k[0], 0.25, None, 1.0 / k[0], 0.5, None) for k in kept)
    finally:
        with factory.begin() as session:
            session.execute(delete(Job).where(Job.id == job_id))
