"""The sweep file: validation before anything runs, search-space expansion, trial configs. No Ray."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from robot_rl.sweep.config import check_trial_space, load_sweep, sweep_from_dict
from robot_rl.train.config import load_config
from tests.sweep.conftest import base_config, write_sweep

LR = {"algo.kwargs.learning_rate": {"loguniform": [1e-4, 1e-2]}}


def test_grid_expands_every_combination_in_file_order(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        {"params": {"algo.kwargs.n_epochs": [1, 2], "algo.kwargs.gamma": {"grid": [0.9, 0.99]}}, "seeds": 3},
    )
    cfg = load_sweep(path)
    assert cfg.search == "grid"  # all-discrete params default to a grid
    assert cfg.grid_points() == [
        {"algo.kwargs.n_epochs": 1, "algo.kwargs.gamma": 0.9},
        {"algo.kwargs.n_epochs": 1, "algo.kwargs.gamma": 0.99},
        {"algo.kwargs.n_epochs": 2, "algo.kwargs.gamma": 0.9},
        {"algo.kwargs.n_epochs": 2, "algo.kwargs.gamma": 0.99},
    ]
    assert cfg.n_configs == 4 and cfg.total_trials == 12


def test_seed_only_sweep_has_one_configuration(tmp_path: Path) -> None:
    cfg = load_sweep(write_sweep(tmp_path, {"seeds": 4}))
    assert cfg.grid_points() == [{}] and cfg.total_trials == 4
    assert [cfg.trial_config({}, k).train.seed for k in range(4)] == [0, 1, 2, 3]


def test_random_points_are_reproducible_and_within_bounds(tmp_path: Path) -> None:
    params = {
        **LR,
        "algo.kwargs.n_epochs": {"int": [1, 3]},
        "algo.kwargs.gae_lambda": {"uniform": [0.9, 0.95]},
    }
    cfg = load_sweep(write_sweep(tmp_path, {"params": params, "search": "random", "samples": 50, "seed": 7}))
    points = cfg.random_points()
    assert points == cfg.random_points() and len(points) == 50
    lrs = [p["algo.kwargs.learning_rate"] for p in points]
    assert all(1e-4 <= x <= 1e-2 for x in lrs)
    assert min(lrs) < 1e-3 < max(lrs)  # log-uniform: a decade below and above the geometric middle
    assert {p["algo.kwargs.n_epochs"] for p in points} == {1, 2, 3}
    assert all(isinstance(p["algo.kwargs.n_epochs"], int) for p in points)
    other = load_sweep(
        write_sweep(tmp_path, {"params": params, "search": "random", "samples": 50, "seed": 8})
    )
    assert other.random_points() != points


def test_trial_config_applies_set_params_and_seed(tmp_path: Path) -> None:
    sweep = {"params": LR, "search": "optuna", "set": {"train.total_timesteps": 2048}, "seeds": 2}
    cfg = load_sweep(write_sweep(tmp_path, sweep))
    trial = cfg.trial_config({"algo.kwargs.learning_rate": 0.003}, 1)
    assert trial.algo.kwargs["learning_rate"] == 0.003 and trial.algo.kwargs["n_epochs"] == 2
    assert trial.train.total_timesteps == 2048 and trial.train.seed == 1
    command = cfg.train_command({"algo.kwargs.learning_rate": 0.003}, 1)
    assert command == (
        f"robot-rl train {tmp_path / 'pend.yaml'} --seed 1 "
        "--set train.total_timesteps=2048 --set algo.kwargs.learning_rate=0.003"
    )


def test_saved_sweep_round_trips_without_the_base_file(tmp_path: Path) -> None:
    cfg = load_sweep(write_sweep(tmp_path, {"params": LR, "search": "optuna", "samples": 3}))
    (tmp_path / "pend.yaml").unlink()  # a resumed sweep must not depend on the launch file any more
    again = sweep_from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())), tmp_path / "elsewhere")
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"parms": {}}, "unknown key 'parms'"),
        (
            {"params": {"algo.kwargs.learning_rate": {"logunifrom": [1e-4, 1e-2]}}},
            "unknown key 'logunifrom' (top level); accepted keys: grid, choice, uniform",
        ),
        ({"params": {"algo.kwargs.learning_rate": {"loguniform": [0, 1e-2]}}, "search": "random"}, "low > 0"),
        (
            {"params": {"algo.kwargs.learning_rate": {"uniform": [1e-2, 1e-4]}}, "search": "random"},
            "low < high",
        ),
        ({"params": LR, "search": "grid"}, "search=grid needs lists of values"),
        ({"params": LR, "search": "bayes"}, "search='bayes' is not accepted"),
        ({"params": {"train.total_timestep": [1, 2]}}, "unknown key train.'total_timestep'"),
        ({"params": {"algo.kwarg.gamma": [0.9]}}, "unknown key algo.'kwarg'"),
        ({"params": {"train.total_timesteps": [100, "many"]}}, "expected an integer"),
        ({"seeds": 0}, "seeds=0 is not accepted; expected an integer >= 1"),
        ({"mode": "maximize"}, "mode='maximize' is not accepted; choose one of ['max', 'min']"),
        ({"scheduler": {"type": "hyperband"}}, "scheduler.type='hyperband' is not accepted"),
        ({"scheduler": {"type": "asha", "grace_period": 5000}}, "grace_period=5000 must be below"),
        ({"set": {"train.eval_freq": 0}}, "needs train.eval_freq > 0"),
        ({"resources": {"cpus": 2}}, "unknown key resources.'cpus' (resources); accepted keys: cpu, gpu"),
    ],
)
def test_bad_sweep_files_fail_with_the_key_named(tmp_path: Path, sweep: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_sweep(write_sweep(tmp_path, sweep))


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="sweep file"):
        load_sweep(tmp_path / "nope.yaml")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": "missing.yaml"}))
    with pytest.raises(FileNotFoundError, match=r"base config '\S*/missing.yaml' not found"):
        load_sweep(path)


def test_learner_and_metric_are_checked_before_ray_starts(tmp_path: Path) -> None:
    good = load_sweep(write_sweep(tmp_path, {"params": {"algo.kwargs.n_epochs": [1, 2]}}))
    assert {"success_rate", "return_mean", "length_mean"} <= set(check_trial_space(good))
    bad_kwarg = load_sweep(write_sweep(tmp_path, {"params": {"algo.kwargs.learning_rat": [0.1]}}))
    with pytest.raises(ValueError, match=r"params.algo.kwargs.learning_rat=0.1: unknown key algo.kwargs"):
        check_trial_space(bad_kwarg)
    bad_metric = load_sweep(write_sweep(tmp_path, {"metric": "spl"}))
    with pytest.raises(ValueError, match=r"metric='spl' is not reported by Pendulum-v1's evaluations"):
        check_trial_space(bad_metric)


def test_navigation_reports_spl(tmp_path: Path) -> None:
    nav = load_sweep(
        write_sweep(tmp_path, {"metric": "spl"}, base=load_config("launch/nav_ppo.yaml").to_dict())
    )
    assert "spl" in check_trial_space(nav)


def test_default_resources_follow_the_vectorization(tmp_path: Path) -> None:
    base = base_config()
    assert load_sweep(write_sweep(tmp_path, {}, base)).resources == {"cpu": 1.0}
    base["env"].update(n_envs=4, vec_env="subproc")
    assert load_sweep(write_sweep(tmp_path, {}, base)).resources == {"cpu": 4.0}


def test_command_line_overrides_of_the_sweep_file(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {"set": {"train.eval_freq": 256}, "seeds": 2})
    cfg = load_sweep(path, ["seeds=3", "set.train.total_timesteps=2e3", "params.algo.kwargs.n_epochs=[1, 2]"])
    assert cfg.seeds == 3 and cfg.set == {"train.eval_freq": 256, "train.total_timesteps": 2000.0}
    assert cfg.base_config.train.total_timesteps == 2000 and cfg.base_config.train.eval_freq == 256
    assert cfg.base_config.train.checkpoint_freq == 10_000  # the rest of the train section is untouched
    assert cfg.grid_points() == [{"algo.kwargs.n_epochs": 1}, {"algo.kwargs.n_epochs": 2}]
    with pytest.raises(ValueError, match="--set expects key=value"):
        load_sweep(path, ["set.train.total_timesteps"])


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "launch").glob("sweep_*.yaml")), ids=lambda p: p.stem)
def test_shipped_sweeps_are_valid(path: Path) -> None:
    cfg = load_sweep(path)
    assert cfg.metric in check_trial_space(cfg)
    assert cfg.total_trials >= 4 and cfg.base.is_file()


def test_random_search_draws_distinct_configurations(tmp_path: Path) -> None:
    params = {"algo.kwargs.n_epochs": [1, 2, 3], "algo.kwargs.gamma": [0.9, 0.99]}
    cfg = load_sweep(write_sweep(tmp_path, {"params": params, "search": "random", "samples": 6}))
    points = cfg.random_points()
    assert len({tuple(sorted(p.items())) for p in points}) == 6  # the whole space, each once
    with pytest.raises(ValueError, match="samples=7 but the params have only 6 combinations"):
        load_sweep(write_sweep(tmp_path, {"params": params, "search": "random", "samples": 7}))
    with pytest.raises(ValueError, match="search=optuna needs params to vary"):
        load_sweep(write_sweep(tmp_path, {"search": "optuna"}))


def test_numbers_yaml_reads_as_text_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    write_sweep(tmp_path, {})
    # PyYAML reads 1e-4 (no dot) as the string '1e-4'
    spec = "  algo.kwargs.learning_rate: {loguniform: [1e-4, 3e-3]}\n"
    path.write_text("name: s\nbase: pend.yaml\nsearch: random\nparams:\n" + spec)
    (lr,) = load_sweep(path).params
    assert (lr.low, lr.high) == (1e-4, 3e-3)
