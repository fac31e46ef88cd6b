"""The figures `sanad bench` derives from the processes (bot/tooling/bench.py): CPU time read from
/proc for a whole process tree, and the CPU milliseconds per reply of each process in a phase."""
import subprocess
import sys
import time

from bot.tooling.bench import Record, cpu_per_reply, cpu_seconds, cpu_snapshot


def test_cpu_seconds_counts_a_busy_child_in_its_parents_tree():
    """A server may fork workers: the CPU its children burn is counted with it."""
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys; subprocess.run([sys.executable, '-c', "
                               "'import time\\nend = time.time() + 1.5\\nwhile time.time() < end: pass'])"])
    try:
        time.sleep(1.2)
        assert cpu_seconds(parent.pid) > 0.5
    finally:
        parent.wait(timeout=10)


def test_cpu_per_reply_divides_each_process_share_by_the_replies_of_the_phase():
    record = Record(steps=[("faq", 1, 10.0)] * 4)
    before = {"gateway": 1.0, "rasa": 10.0, "bench_client": 0.5}
    after = {"gateway": 1.2, "rasa": 10.8, "bench_client": 0.6}
    assert cpu_per_reply(before, after, record) == {"gateway": 50.0, "rasa": 200.0, "bench_client": 25.0,
                                                    "total": 275.0}


def test_a_snapshot_includes_the_bench_itself():
    snapshot = cpu_snapshot({})
    assert set(snapshot) == {"bench_client"} and snapshot["bench_client"] > 0


def test_one_outbox_serves_every_phase_of_a_run(tmp_path):
    """The gateway phase and the direct phase each run in their own event loop; a phone's lock
    first waited on in one was bound to it, and the next phase's look-ups on that phone failed
    ("open: RuntimeError" in the direct figures)."""
    import asyncio

    from bot.tooling.bench import Outbox

    outbox = Outbox(tmp_path)

    async def two_look_ups_on_one_phone():
        async def look_up():
            async with outbox.lock("0600000000"):
                await asyncio.sleep(0.01)
        await asyncio.gather(look_up(), look_up())

    for _phase in range(2):
        outbox.new_phase()
        asyncio.run(two_look_ups_on_one_phone())
