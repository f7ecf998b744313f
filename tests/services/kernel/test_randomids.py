"""random_hex128: 32 hex digits, no repeats, none shared with a forked child."""

from __future__ import annotations

import os
import re

from services.kernel.db import new_id
from services.kernel.randomids import random_hex128


def test_ids_are_128_bit_hex_and_do_not_repeat_across_many_refills() -> None:
    ids = [random_hex128() for _ in range(3000)]  # more than ten 4 KiB reads
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == len(ids)
    assert re.fullmatch(r"ten_[0-9a-f]{32}", new_id("ten"))


def test_a_forked_child_does_not_hand_out_the_parents_next_ids() -> None:
    random_hex128()  # the pool now holds unread bytes the child would otherwise reuse
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        os.write(write, "".join(random_hex128() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 4096).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(random_hex128() for _ in range(4))
    child_ids = {child[i : i + 32] for i in range(0, len(child), 32)}
    assert len(child_ids) == 4
    assert not child_ids & {parent[i : i + 32] for i in range(0, len(parent), 32)}
