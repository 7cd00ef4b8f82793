import multiprocessing as mp

import pytest

from robot_rl.sim.session import PyBulletSession


def test_sessions_are_independent_clients():
    a, b = PyBulletSession(), PyBulletSession()
    try:
        assert a.client_id != b.client_id
        body = a.load_urdf("cube.urdf", [0, 0, 1])
        assert a.getNumBodies() == 1
        assert b.getNumBodies() == 0
        a.step(24)  # 0.1 s of free fall from 1 m
        z = a.getBasePositionAndOrientation(body)[0][2]
        assert 0.90 < z < 0.99
    finally:
        a.close()
        b.close()
    assert not a.is_connected


def test_constants_and_cached_functions():
    s = PyBulletSession()
    try:
        assert s.POSITION_CONTROL == 2
        assert s.stepSimulation is s.stepSimulation  # bound once, cached
    finally:
        s.close()


def test_missing_urdf_raises_file_not_found():
    s = PyBulletSession()
    try:
        with pytest.raises(FileNotFoundError, match=r"no_such\.urdf"):
            s.load_urdf("no_such.urdf")
    finally:
        s.close()


def test_bad_connection_name():
    with pytest.raises(ValueError, match="'direct' or 'gui'"):
        PyBulletSession(connection="shared")  # type: ignore[arg-type]


def _child(q):
    s = PyBulletSession()
    q.put(s.client_id >= 0)
    s.close()


def test_session_works_in_a_spawned_process():
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(60)
    assert q.get(timeout=5) is True


def test_pybullet_banner_and_urdf_chatter_stay_out_of_the_terminal():
    import subprocess
    import sys

    code = (
        "from robot_rl.sim.session import PyBulletSession\n"
        "s = PyBulletSession()\n"
        "s.load_urdf('franka_panda/panda.urdf', useFixedBase=True)\n"
        "s.step(10)\n"
        "s.close()\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    assert "pybullet build time" not in r.stderr and r.stderr == ""


def test_step_counts_physics_steps():
    s = PyBulletSession()
    try:
        assert s.physics_steps == 0
        s.step(12)
        s.step(0)
        s.step(3)
        assert s.physics_steps == 15
    finally:
        s.close()
