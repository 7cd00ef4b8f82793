"""``robot-rl configs`` and the verbs that take a shipped config by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_rl.cli import build_verb_parser, main
from robot_rl.resources import launch_dir, shipped_configs


def test_configs_lists_every_shipped_config_with_its_description(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert f"Shipped configs (in {launch_dir()}):" in out
    assert "training configs (robot-rl train NAME):" in out and "sweeps (robot-rl sweep NAME):" in out
    assert "deploy configs (robot-rl export RUN --deploy-config NAME" in out
    lines = out.splitlines()
    for c in shipped_configs():
        assert any(
            line.split() and line.split()[0] == c.name and line.endswith(c.description) for line in lines
        )


def test_configs_name_prints_the_file_to_copy(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["configs", "grasp_ppo"]) == 0
    assert capsys.readouterr().out == (launch_dir() / "grasp_ppo.yaml").read_text()
    assert main(["configs", "deploy_nav"]) == 0
    assert capsys.readouterr().out.startswith("# Deployment limits for a robot_rl/MobileNav-v0 bundle")


def test_configs_unknown_name_is_one_line_listing_the_names(capsys) -> None:
    assert main(["configs", "grasp_ddpg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "robot-rl configs: error: no shipped config is called 'grasp_ddpg'; shipped configs: "
    )
    assert "grasp_ppo" in err and "sweep_nav_ppo_lr" in err and "deploy_nav" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "grasp_ddpg"],
            "training config 'grasp_ddpg' is neither a file nor a shipped training config",
        ),
        (["train", "sweep_nav_ppo_lr"], "'sweep_nav_ppo_lr' is a shipped sweep, not a training config"),
        (["train", "launch/grasp_ppo.yaml"], "give the name alone: grasp_ppo"),
        (["sweep", "nav_ppo"], "'nav_ppo' is a shipped training config, not a sweep"),
        (["bench", "train", "nav_ppo", "grasp_ddpg"], "training config 'grasp_ddpg' is neither"),
    ],
)
def test_verbs_refuse_a_bad_name_before_doing_anything(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where launch/ does not exist
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_demo_defaults_are_the_shipped_config_and_the_working_directory() -> None:
    parser, _ = build_verb_parser("demo")
    args = parser.parse_args([])
    assert args.config == "grasp_ppo" and args.run_dir == Path("runs/demo") and args.export_dir is None
    assert not args.run_dir.is_absolute()  # ./runs/demo wherever robot-rl demo runs
