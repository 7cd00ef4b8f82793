"""Config loading: every shipped config validates; typos and bad values fail with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from robot_rl.errors import InputError
from robot_rl.train.config import apply_overrides, config_from_dict, dump_config, load_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "launch").glob("*.yaml") if not p.name.startswith(("deploy", "sweep")))


def minimal(**sections: dict) -> dict:
    raw: dict = {"name": "t", "env": {"id": "Pendulum-v1"}}
    raw.update(sections)
    return raw


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_validate_and_round_trip(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name == path.stem
    again = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


def test_at_least_the_issue_configs_are_shipped() -> None:
    algos = {(load_config(p).env.id, load_config(p).algo.name) for p in SHIPPED}
    assert ("robot_rl/PandaGrasp-v0", "ppo") in algos
    assert ("robot_rl/MobileNav-v0", "ppo") in algos
    assert ("robot_rl/MobileNav-v0", "sac") in algos
    assert ("robot_rl/MobileNavDiscrete-v0", "dqn") in algos
    assert any(env == "robot_rl/PandaGraspGoal-v0" and algo in ("sac", "tqc") for env, algo in algos)


def test_unknown_key_names_the_key_and_the_accepted_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown key train\.'total_steps'.*accepted keys: total_timesteps"):
        config_from_dict(minimal(train={"total_steps": 5}))
    with pytest.raises(ValueError, match=r"unknown key 'enviroment' \(top level\); accepted keys: name, env"):
        config_from_dict({"enviroment": {}})


def test_bad_choice_lists_the_accepted_values() -> None:
    with pytest.raises(ValueError, match=r"algo.name='a2c' is not accepted; choose one of \['ppo', 'sac'"):
        config_from_dict(minimal(algo={"name": "a2c"}))
    with pytest.raises(ValueError, match=r"env.vec_env='threads'.*\['dummy', 'subproc'\]"):
        config_from_dict(minimal(env={"id": "Pendulum-v1", "vec_env": "threads"}))


def test_bad_types_and_ranges_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"train.total_timesteps='many' is not accepted; expected an integer"
    ):
        config_from_dict(minimal(train={"total_timesteps": "many"}))
    with pytest.raises(ValueError, match=r"env.normalize.enabled='yes please'.*true or false"):
        config_from_dict(minimal(env={"id": "Pendulum-v1", "normalize": {"enabled": "yes please"}}))
    with pytest.raises(ValueError, match=r"env.n_envs=0.*>= 1"):
        config_from_dict(minimal(env={"id": "Pendulum-v1", "n_envs": 0}))
    with pytest.raises(ValueError, match=r"success_threshold"):
        config_from_dict(minimal(train={"success_threshold": 1.5}))
    with pytest.raises(ValueError, match=r"env.id is required"):
        config_from_dict({"name": "t"})


def test_her_needs_an_off_policy_continuous_learner() -> None:
    with pytest.raises(ValueError, match=r"her.enabled=true.*choose one of \['sac', 'td3', 'tqc'\]"):
        config_from_dict(minimal(algo={"name": "ppo", "her": {"enabled": True}}))


@pytest.mark.parametrize("act", ["gelu", "silu", "swish"])
def test_activations_the_exporter_cannot_implement_are_refused_before_training(act: str) -> None:
    accepted = r"\['relu', 'tanh', 'elu', 'leaky_relu'\] \(the activations robot-rl export"
    with pytest.raises(ValueError, match=rf"activation_fn='{act}' is not accepted; choose one of {accepted}"):
        config_from_dict(minimal(algo={"name": "ppo", "policy_kwargs": {"activation_fn": act}}))
    cfg = config_from_dict(minimal(algo={"name": "ppo", "policy_kwargs": {"activation_fn": "elu"}}))
    assert cfg.algo.policy_kwargs["activation_fn"] == "elu"


def test_overrides_parse_yaml_values_and_create_nested_keys() -> None:
    raw = apply_overrides(
        minimal(),
        ["train.total_timesteps=2e4", "env.kwargs.split=val", "algo.policy_kwargs.net_arch=[64, 64]"],
    )
    cfg = config_from_dict(raw)
    assert cfg.train.total_timesteps == 20000 and isinstance(cfg.train.total_timesteps, int)
    assert cfg.env.kwargs == {"split": "val"}
    assert cfg.algo.policy_kwargs == {"net_arch": [64, 64]}


def test_override_errors() -> None:
    with pytest.raises(ValueError, match="expects key=value"):
        apply_overrides(minimal(), ["train.seed"])
    with pytest.raises(ValueError, match=r"'name' is not a section"):
        apply_overrides(minimal(), ["name.x=1"])


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_config(bad)


def test_null_switches_the_warm_start_off_from_the_command_line() -> None:
    cfg = load_config("grasp_ppo")
    assert cfg.train.warm_start and cfg.train.demo_episodes > 0
    off = load_config("grasp_ppo", ["train.demo_controller=null"])
    assert off.train.demo_controller is None and not off.train.warm_start
    assert not load_config("grasp_ppo", ["train.demo_episodes=0"]).train.warm_start
    # what config.yaml of a run stores round-trips, "" (older runs) included
    assert config_from_dict(yaml.safe_load(dump_config(off))) == off
    legacy = config_from_dict(minimal(train={"demo_controller": ""}))
    assert legacy.train.demo_controller is None


def test_one_number_parser_for_files_and_overrides(tmp_path: Path) -> None:
    # PyYAML reads 1e-4 (no dot) as text; the project's loader reads it as the number everywhere
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\nenv: {id: Pendulum-v1}\n"
        "algo: {kwargs: {learning_rate: 1e-4}}\ntrain: {total_timesteps: 2e4}\n"
    )
    cfg = load_config(path, ["algo.kwargs.gamma=9.9e-1"])
    assert cfg.algo.kwargs == {"learning_rate": 1e-4, "gamma": 0.99}
    assert cfg.train.total_timesteps == 20000


def test_strict_types_refuse_text_for_numbers_and_fractions_for_integers() -> None:
    with pytest.raises(InputError, match=r"train.success_threshold='0.5' is not accepted; expected a number"):
        config_from_dict(minimal(train={"success_threshold": "0.5"}))
    with pytest.raises(InputError, match=r"train.total_timesteps=1.5 is not accepted; expected an integer"):
        config_from_dict(minimal(train={"total_timesteps": 1.5}))
    with pytest.raises(InputError, match=r"env must be a mapping with keys \['id'"):
        config_from_dict({"name": "t", "env": 5})
    # every problem is named, not only the first
    with pytest.raises(InputError, match=r"train.seed=-1 .*>= 0; train.eval_episodes=0 .*>= 1"):
        config_from_dict(minimal(train={"seed": -1, "eval_episodes": 0}))


def test_features_extractors_are_named_and_checked_before_training() -> None:
    ok = config_from_dict(minimal(algo={"policy_kwargs": {"features_extractor": "depth_cnn"}}))
    assert ok.algo.policy_kwargs["features_extractor"] == "depth_cnn"
    with pytest.raises(
        InputError, match=r"features_extractor='nature_cnn' is not accepted; choose one of \['depth_cnn'\]"
    ):
        config_from_dict(minimal(algo={"policy_kwargs": {"features_extractor": "nature_cnn"}}))
    with pytest.raises(InputError, match="features_extractor_class is not accepted in a config"):
        config_from_dict(minimal(algo={"policy_kwargs": {"features_extractor_class": "x"}}))
