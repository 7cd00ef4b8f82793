"""Shipped files (robot models, configs) found inside the package, and configs addressed by name.

The wheel itself is checked by ``.ci/wheel_check`` (built, installed into a fresh venv and used
from a temporary directory); these tests run against the editable install.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import pytest

from robot_rl import resources
from robot_rl.deploy.deploy_config import load_deploy_config, shipped_config_for
from robot_rl.resources import (
    asset_path,
    assets_dir,
    config_arg,
    launch_dir,
    resolve_config,
    shipped_config,
    shipped_configs,
    source_checkout,
)
from robot_rl.sweep.config import load_sweep
from robot_rl.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["grasp_depth", "grasp_ppo", "grasp_sac", "grasp_tqc_her", "nav_dqn", "nav_ppo", "nav_sac"]
SWEEPS = ["sweep_grasp_ppo_seeds", "sweep_nav_ppo_lr", "sweep_nav_ppo_seeds"]
DEPLOY = ["deploy_grasp", "deploy_grasp_ros2", "deploy_nav", "deploy_nav_discrete", "deploy_nav_ros2"]


# ---------------------------------------------------------------------- package data
def test_editable_install_reads_the_top_level_directories_in_place() -> None:
    assert launch_dir().samefile(ROOT / "launch")
    assert assets_dir().samefile(ROOT / "assets")
    assert asset_path("diff_drive/diff_drive.urdf").samefile(ROOT / "assets/diff_drive/diff_drive.urdf")


def test_a_missing_asset_is_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"robot_rl asset 'nope/robot\.urdf' is missing"):
        asset_path("nope/robot.urdf")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")
def test_pyproject_lists_every_package_and_maps_the_data_directories() -> None:
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "robot_rl").rglob("__init__.py")}
    assert on_disk - set(setup["packages"]) == set(), "add new subpackages to [tool.setuptools] packages"
    assert setup["package-dir"] == {"robot_rl._assets": "assets", "robot_rl._launch": "launch"}
    assert {"robot_rl._assets", "robot_rl._launch"} <= set(setup["packages"])


def test_shipped_configs_are_every_launch_file_with_kind_and_description() -> None:
    configs = shipped_configs()
    assert [c.name for c in configs] == sorted(p.stem for p in (ROOT / "launch").glob("*.yaml"))
    assert [c.name for c in shipped_configs("train")] == TRAIN
    assert [c.name for c in shipped_configs("sweep")] == SWEEPS
    assert [c.name for c in shipped_configs("deploy")] == DEPLOY
    for c in configs:
        first = c.path.read_text().splitlines()[0]
        assert first == f"# {c.description}", c.name
        # a one-line summary: a whole sentence that fits a terminal line next to the name
        assert c.description.endswith(".") and 20 <= len(c.description) <= 100, c.name


# ---------------------------------------------------------------------- names vs. paths
@pytest.mark.parametrize(
    ("kind", "names"),
    [("train", TRAIN), ("sweep", SWEEPS), ("deploy", DEPLOY)],
    ids=["train", "sweep", "deploy"],
)
def test_a_name_means_the_shipped_file(kind, names, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in names:
        assert resolve_config(name, kind) == launch_dir() / f"{name}.yaml"
        assert config_arg(resolve_config(name, kind)) == name


def test_an_existing_file_wins_over_a_shipped_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grasp_ppo").write_text("name: mine\n")
    assert resolve_config("grasp_ppo", "train") == Path("grasp_ppo")
    mine = tmp_path / "mine.yml"
    mine.write_text("name: mine\n")
    assert resolve_config(mine, "train") == mine
    assert config_arg(mine) == str(mine)


def test_a_path_that_does_not_exist_is_an_error_not_a_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        FileNotFoundError,
        match=r"training config file 'launch/grasp_ppo\.yaml' not found; for the shipped training config "
        r"of that name give the name alone: grasp_ppo",
    ):
        resolve_config("launch/grasp_ppo.yaml", "train")
    with pytest.raises(
        FileNotFoundError, match=r"sweep file 'my\.yaml' not found; shipped sweeps: sweep_grasp"
    ):
        resolve_config("my.yaml", "sweep")
    with pytest.raises(FileNotFoundError, match=r"deploy config file 'limits/robot' not found"):
        resolve_config("limits/robot", "deploy")
    (tmp_path / "configs").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"training config 'configs/' is a directory, not a YAML file"
    ):
        resolve_config("configs/", "train")


def test_an_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(FileNotFoundError) as err:
        resolve_config("grasp_ddpg", "train")
    assert str(err.value) == (
        "training config 'grasp_ddpg' is neither a file nor a shipped training config; shipped training "
        f"configs: {', '.join(TRAIN)} (robot-rl configs lists them), or give a path to a YAML file"
    )
    with pytest.raises(
        FileNotFoundError, match=r"no shipped config is called 'nope'; shipped configs: deploy_grasp"
    ):
        shipped_config("nope")


def test_a_name_of_another_kind_names_the_command_that_takes_it() -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"'sweep_nav_ppo_lr' is a shipped sweep, not a training config \(use it with "
        r"robot-rl sweep NAME\)",
    ):
        resolve_config("sweep_nav_ppo_lr", "train")
    with pytest.raises(FileNotFoundError, match=r"'nav_ppo' is a shipped training config, not a sweep"):
        resolve_config("nav_ppo", "sweep")
    with pytest.raises(
        FileNotFoundError, match=r"'grasp_ppo' is a shipped training config, not a deploy config"
    ):
        load_deploy_config("grasp_ppo")


# ---------------------------------------------------------------------- nothing depends on the cwd
def test_every_shipped_config_loads_by_name_from_another_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in TRAIN:
        assert load_config(name).name == name
    for name in SWEEPS:
        sweep = load_sweep(name)
        base = sweep.base.stem
        assert sweep.base == launch_dir() / f"{base}.yaml" and base in TRAIN
        # the recorded per-trial command names the shipped config, so it works on any install
        assert sweep.train_command({}, 0).startswith(f"robot-rl train {base} --seed ")
    for name in DEPLOY:
        load_deploy_config(name)
    assert shipped_config_for("robot_rl/MobileNav-v0") == launch_dir() / "deploy_nav.yaml"


def test_a_copied_sweep_still_finds_its_shipped_base(tmp_path: Path, monkeypatch) -> None:
    """``robot-rl configs sweep_nav_ppo_seeds > my_sweep.yaml`` works anywhere: base is a name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_sweep.yaml").write_text(shipped_config("sweep_nav_ppo_seeds").path.read_text())
    assert load_sweep("my_sweep.yaml", ["seeds=2"]).base == launch_dir() / "nav_ppo.yaml"
    (tmp_path / "bad.yaml").write_text("name: bad\nbase: nav_ppq\n")
    with pytest.raises(FileNotFoundError, match=r"bad\.yaml: base: training config 'nav_ppq' is neither"):
        load_sweep("bad.yaml")


def test_every_registered_env_is_built_from_another_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    ids = sorted(i for i in gym.registry if i.startswith("robot_rl/"))
    assert len(ids) >= 4
    for env_id in ids:
        env = gym.make(env_id)
        try:
            obs, _ = env.reset(seed=0)
            assert env.observation_space.contains(obs), env_id
        finally:
            env.close()
    assert list(tmp_path.iterdir()) == []  # and nothing was written there


# ---------------------------------------------------------------------- provenance
def test_git_commit_only_for_a_robot_rl_checkout(tmp_path: Path, monkeypatch) -> None:
    from robot_rl.runs import git_commit as run_commit

    assert source_checkout() == ROOT
    # a wheel installed into a venv that sits inside some other git repository
    (tmp_path / "project" / ".git").mkdir(parents=True)
    site = tmp_path / "project" / ".venv" / "lib" / "python3.11" / "site-packages"
    monkeypatch.setattr(resources, "__file__", str(site / "robot_rl" / "resources.py"))
    assert source_checkout() is None
    assert run_commit() == "unknown"
    # a checkout of robot_rl: the commit is recorded
    checkout = tmp_path / "robot_rl_checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'robot_rl'\n")
    monkeypatch.setattr(resources, "__file__", str(checkout / "robot_rl" / "resources.py"))
    assert source_checkout() == checkout
