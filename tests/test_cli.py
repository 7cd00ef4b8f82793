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
