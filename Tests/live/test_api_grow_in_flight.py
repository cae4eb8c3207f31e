"""A grow of gigabytes holds the object's inode lock for its whole fallocate; lseek(SEEK_DATA), which
a listing uses for dataBytes, takes the same lock. The list, detail and metrics must not queue
behind it. Checked by order, not by time: they are answered while the grow is still in flight."""

import os
import threading

import pytest
from support.client import sec
from support.common import GiB, MiB
from support.shm import shm_path


def test_list_detail_and_metrics_answer_while_a_large_grow_is_in_flight(admin, prefix):
    free = os.statvfs("/dev/shm")
    if free.f_bavail * free.f_frsize < 12 * GiB:
        pytest.skip("needs 12 GiB free in /dev/shm to grow a section by 8 GiB")
    name = prefix + "big"
    assert admin.create(name, "10GiB", "4KiB")
    result = {}
    done = threading.Event()

    def grow():
        result["grow"] = admin.post(sec(name, "grow"), json={"commit": "8GiB"}, timeout=120)
        done.set()

    worker = threading.Thread(target=grow)
    worker.start()
    try:
        # The grow is under way once the object's allocation starts to rise.
        for _ in range(400):
            if done.is_set() or os.stat(shm_path(name)).st_blocks * 512 > 64 * MiB:
                break
            done.wait(0.005)
        if done.is_set():
            pytest.skip("the grow finished before it could be observed in flight")
        listing = admin.get("/api/v1/sections", query={"q": name})
        detail = admin.get(sec(name))
        metrics = admin.get("/metrics")
        still_growing = not done.is_set()
        assert listing.status == 200 and detail.status == 200 and metrics.status == 200
        assert listing.json["total"] == 1
        assert still_growing, "list, detail and metrics waited for the grow to finish"
    finally:
        worker.join(120)
    assert result["grow"].status == 200, result["grow"].describe()
    assert result["grow"].json["commit"] == 8 * GiB
