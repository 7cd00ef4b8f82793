import subprocess
import sys

from robot_rl.cli import VERBS, main


def test_help_lists_every_verb(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert verb in out


def test_unknown_verb_is_an_error_naming_the_choices(capsys):
    try:
        main(["fly"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert "unknown verb 'fly'" in err and "train" in err


def test_every_verb_module_builds_its_parser():
    for verb in VERBS:
        r = subprocess.run(
            [sys.executable, "-m", "robot_rl", verb, "--help"], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, (verb, r.stderr)
        assert f"robot-rl {verb}" in r.stdout


def test_envs_verb_describes_spaces_and_rejects_unknown_ids(capsys):
    assert main(["envs", "robot_rl/MobileNavDiscrete-v0"]) == 0
    out = capsys.readouterr().out
    assert "action: Discrete(7)" in out and "dt: 0.1000 s" in out and "episode limit: 25.0 s" in out
    assert main(["envs", "robot_rl/Nope-v0"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment id(s) ['robot_rl/Nope-v0']" in err and "robot_rl/PandaGrasp-v0" in err


def test_input_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys):
    import types

    from robot_rl import cli
    from robot_rl.errors import InputError

    def fake_module(exc: BaseException) -> types.SimpleNamespace:
        def run(args):
            raise exc

        return types.SimpleNamespace(run=run, add_arguments=lambda parser: None)

    def use(exc: BaseException) -> None:
        monkeypatch.setattr(
            cli, "build_verb_parser", lambda verb: (cli.argparse.ArgumentParser(), fake_module(exc))
        )

    use(InputError("train.seed=-1 is not accepted; expected an integer >= 0"))
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err == "robot-rl train: error: train.seed=-1 is not accepted; expected an integer >= 0\n"
    # a KeyError or ValueError from inside the code is a bug: traceback, exit 1, a request to report
    for bug in (KeyError("obs"), ValueError("shapes (3,) and (4,) not aligned")):
        use(bug)
        assert main(["train"]) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and type(bug).__name__ in err
        assert "internal error (a bug, not your input)" in err


def test_config_errors_reach_the_user_as_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenv: {id: Pendulum-v1}\nalgo: {name: a2c}\n")
    assert main(["train", str(bad), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "algo.name='a2c' is not accepted; choose one of ['ppo'" in err
    assert not (tmp_path / "run").exists()


def test_unknown_env_ids_and_kwargs_name_what_is_accepted():
    import pytest

    from robot_rl.envs.make import make_env
    from robot_rl.errors import InputError

    with pytest.raises(
        InputError, match=r"env id 'robot_rl/Nope-v0' is not registered.*'robot_rl/MobileNav-v0'"
    ):
        make_env("robot_rl/Nope-v0")
    with pytest.raises(
        InputError, match=r"robot_rl/MobileNav-v0 takes no keyword argument 'splt'; it takes \[.*'split'"
    ):
        make_env("robot_rl/MobileNav-v0", splt="val")
