"""robot-rl bench fidelity: the guard rules on known inputs, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robot_rl.benchmark.fidelity import compare, format_rows, speed_envs
from robot_rl.cli import main


def test_rate_rule_margin_and_mcnemar() -> None:
    base = [True] * 80 + [False] * 20
    within = base[:]  # 0.78: two episodes lost, inside the 0.05 margin
    within[0] = within[1] = False
    far = [False] * 10 + base[10:]  # 0.70: outside
    rows = compare({"grasp/a": base, "grasp/b": base}, {"grasp/a": within, "grasp/b": far}, margin=0.05)
    assert [r.passed for r in rows] == [True, False]
    assert rows[0].baseline == pytest.approx(0.8) and rows[0].candidate == pytest.approx(0.78)
    assert rows[1].p_value == pytest.approx(0.001953125)  # 10 discordant pairs, all lost
    # inside the margin (15 of 400 net) but significantly worse on the paired episodes: fails
    base = [True] * 200 + [False] * 200
    cand = [False] * 20 + [True] * 180 + [True] * 5 + [False] * 195
    (row,) = compare({"grasp/c": base}, {"grasp/c": cand}, margin=0.05)
    assert row.candidate == pytest.approx(row.baseline - 15 / 400)
    assert row.p_value < 0.05 and not row.passed


def test_spl_rule_and_resting_rule() -> None:
    base_runs = [{"seed": i, "success": True, "spl": 0.9} for i in range(10)]
    cand_runs = [{"seed": i, "success": True, "spl": 0.84} for i in range(10)]
    rows = compare({"planner/test": base_runs}, {"planner/test": cand_runs}, margin=0.05)
    assert [(r.metric, r.passed) for r in rows] == [("success", True), ("SPL", False)]
    # resting is the share of objects under 1 mm of drift, with the rate rule
    rows = compare({"resting/x": [0.0001, 0.2, 0.0002]}, {"resting/x": [0.0003, 0.25, 0.0009]}, margin=0.05)
    assert (rows[0].metric, rows[0].baseline, rows[0].candidate) == ("rests (<1 mm)", 2 / 3, 2 / 3)
    assert rows[0].passed
    rows = compare({"resting/x": [0.0001, 0.2]}, {"resting/x": [0.0012, 0.2]}, margin=0.05)
    assert not rows[0].passed
    assert "FAILS (>= baseline - 0.05" in format_rows(rows)


def test_speed_envs_follow_the_guards() -> None:
    assert speed_envs(("planner",)) == ["robot_rl/MobileNav-v0"]
    assert speed_envs(("resting",)) == ["robot_rl/PandaGrasp-v0"]
    assert len(speed_envs(())) == 2


def test_bench_fidelity_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fid.json"
    args = ["bench", "fidelity", "--candidate", "20", "--guards", "resting", "--episodes", "2",
            "--policies", "", "--speed-steps", "20", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "solver_iterations 50 (baseline) vs 20 (candidate)" in text
    assert "resting object, cube" in text and "all guards keep" in text
    data = json.loads(out.read_text())
    assert data["settings"] == [{"solver_iterations": 50}, {"solver_iterations": 20}]
    assert len(data["results"][0]["resting/cube"]) == 2
    assert set(data["speed"]) == {"robot_rl/PandaGrasp-v0"}


def test_bench_fidelity_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "fidelity", "--candidate", "10", "--guards", "lidar"]) == 2
    assert "--guards ['lidar'] not accepted; choose from grasp, planner, resting" in capsys.readouterr().err
    assert main(["bench", "fidelity", "--candidate", "0", "--guards", "resting"]) == 2
    assert "solver_iterations=0 is not accepted; expected an int in [1, 1000]" in capsys.readouterr().err
    # a policy that is not there is refused before any episode is measured
    assert main(["bench", "fidelity", "--candidate", "20", "--policies", "zoo:nope"]) == 2
    assert "no pretrained policy is called 'nope'" in capsys.readouterr().err
    assert main(["bench", "fidelity", "--candidate", "20", "--policies", "runs/does_not_exist"]) == 2
    assert "runs/does_not_exist does not exist (expected a run directory" in capsys.readouterr().err


def test_bench_fidelity_takes_the_baseline_from_a_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "before.json"
    base = ["bench", "fidelity", "--candidate", "20", "--guards", "resting", "--episodes", "2",
            "--policies", "", "--speed-steps", "0"]  # fmt: skip
    assert main([*base, "--json", str(first)]) == 0
    # the code "before" measured other drifts: the reference's numbers, not a new measurement, are
    # the baseline (here: no cube rested, so the baseline rate is 0)
    data = json.loads(first.read_text())
    data["results"][0]["resting/cube"] = [0.5, 0.5]
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps(data))
    out = tmp_path / "after.json"
    capsys.readouterr()
    assert main([*base, "--reference", str(reference), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"solver_iterations 50 (baseline from {reference}) vs 20 (candidate)" in text
    after = json.loads(out.read_text())
    row = next(r for r in after["rows"] if r["guard"] == "resting object, cube")
    assert (row["baseline"], row["candidate"]) == (0.0, 1.0)
    assert after["results"][0]["resting/cube"] == [0.5, 0.5] and after["reference"] == str(reference)


def test_bench_fidelity_refuses_a_reference_that_does_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = tmp_path / "ref.json"
    payload = {"settings": [{"solver_iterations": 50}, {"solver_iterations": 20}], "episodes": 2,
               "policy_episodes": 200, "results": [{"resting/cube": [0.0, 0.0]}, {}]}  # fmt: skip
    reference.write_text(json.dumps(payload))
    base = ["bench", "fidelity", "--candidate", "20", "--policies", "", "--reference", str(reference)]
    assert main([*base, "--guards", "resting", "--episodes", "3"]) == 2
    assert "has --episodes 2 and --policy-episodes 200; this run asks for 3" in capsys.readouterr().err
    assert main([*base, "--guards", "grasp", "--episodes", "2"]) == 2
    assert "has no results for ['grasp/cube'," in capsys.readouterr().err
    assert main([*base, "--guards", "resting", "--episodes", "2", "--baseline", "30"]) == 2
    assert "measured the baseline {'solver_iterations': 50}; this run" in capsys.readouterr().err
    assert main([*base[:-1], str(tmp_path / "nope.json"), "--guards", "resting"]) == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    not_an_object = '{"settings": [{"solver_iterations": 50}], "results": [[]]}'
    for broken in ("[]", '{"settings": [], "results": []}', not_an_object):
        reference.write_text(broken)
        assert main([*base, "--guards", "resting", "--episodes", "2"]) == 2
        assert "is not a bench fidelity --json file" in capsys.readouterr().err
