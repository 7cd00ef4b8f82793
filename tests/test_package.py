import subprocess
import sys

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED}:
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Block())
"""


def _run(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    src = BLOCKER.replace("{BLOCKED}", repr(blocked)) + code
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=120)


def test_import_registers_ids_without_pybullet_or_torch():
    r = _run(
        {"pybullet", "torch", "stable_baselines3"},
        "import robot_rl, gymnasium as gym\n"
        "ids = [i for i in gym.registry if i.startswith('robot_rl/')]\n"
        "assert 'robot_rl/PandaGrasp-v0' in ids and 'robot_rl/MobileNav-v0' in ids, ids\n"
        "assert 'pybullet' not in sys.modules and 'torch' not in sys.modules\n",
    )
    assert r.returncode == 0, r.stderr


def test_import_works_without_gymnasium():
    r = _run({"gymnasium", "pybullet", "torch"}, "import robot_rl; print(robot_rl.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0.1.0"
