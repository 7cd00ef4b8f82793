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


def test_training_works_and_sweep_explains_itself_without_ray(tmp_path):
    import yaml

    from tests.sweep.conftest import base_config, write_sweep

    config = tmp_path / "pend.yaml"
    config.write_text(yaml.safe_dump(base_config(total=256, eval_freq=256)))
    sweep = write_sweep(tmp_path, {"seeds": 2})
    r = _run(
        {"ray", "optuna"},  # as on a machine without the robot_rl[ray] extra
        "from robot_rl.cli import main\n"
        f"assert main(['train', {str(config)!r}, '--run-dir', {str(tmp_path / 'run')!r}]) == 0\n"
        f"assert main(['sweep', {str(sweep)!r}, '--out', {str(tmp_path / 'sweep')!r}]) == 2\n"
        "assert 'ray' not in sys.modules and 'optuna' not in sys.modules\n",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "robot-rl sweep needs Ray Tune and Optuna: pip install 'robot_rl[ray]'" in r.stderr
    assert (tmp_path / "run" / "model.zip").is_file() and not (tmp_path / "sweep").exists()
