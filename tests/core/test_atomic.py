import os

import pytest

from avatarclip_studio.utils.atomic import OutputError, atomic_path, atomic_write_json, atomic_write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("disk on fire")

    from avatarclip_studio.utils.atomic import atomic_write

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_path_for_library_writers(tmp_path):
    target = tmp_path / "sub" / "data.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    atomic_write_json(target, {"a": 1})
    assert '"a": 1' in target.read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write_text(folder / "x.txt", "x")


def test_missing_parent_that_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write_text(blocker / "x.txt", "x")


def test_outputs_get_normal_permissions(tmp_path):
    target = tmp_path / "shared.txt"
    atomic_write_text(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
