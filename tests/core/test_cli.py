import pytest

from avatarclip_studio.cli.main import build_parser, main

SUBCOMMANDS = ["app", "generate", "animate", "export", "train", "doctor", "demo"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: avatarclip-studio " + command in capsys.readouterr().out


def test_parser_lists_all_subcommands():
    text = build_parser().format_help()
    for command in SUBCOMMANDS:
        assert command in text


def test_unknown_export_format_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit, match="unknown export format"):
        main(["export", str(tmp_path), "--format", "fbx"])


def test_empty_prompt_is_a_clear_error(capsys, tmp_path):
    code = main(
        ["generate", "--shape", "  ", "--appearance", "x", "--out", str(tmp_path / "r"), "--preset", "tiny"]
    )
    assert code == 2
    assert "shape prompt is empty" in capsys.readouterr().err


def test_doctor_reports_each_item(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for item in ("torch", "clip", "body model", "opengl", "qt", "ray casting"):
        assert item in out
