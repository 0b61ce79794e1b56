"""`python -m bench`: names and options are checked before any bench starts seeding."""

from __future__ import annotations

import pytest

from bench.__main__ import main


def test_help_lists_every_bench_but_not_the_runner_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Listing itself made `make bench` (no names) import bench.__main__ and run every bench again.
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out.split("benches: ", 1)[1].splitlines()[0].split(", ")
    assert "__main__" not in listed
    assert {"reads", "votes", "webhooks", "import"} <= set(listed)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "unknown bench 'nope'"),
        (["reads", "votes", "--rounds", "1"], "options go with exactly one bench name"),
        (["votes", "--rounds", "1"], "bench 'votes' takes no options"),
    ],
)
def test_bad_arguments_get_a_clear_error_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
