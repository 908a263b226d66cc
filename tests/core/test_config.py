from dataclasses import replace

import pytest

from avatarclip_studio.config import (
    ConfigError,
    StudioConfig,
    dump_config,
    from_dict,
    load_config,
    preset,
    to_dict,
)


def test_defaults_are_the_original_methods():
    config = StudioConfig()
    assert (config.neus.sdf_layers, config.neus.sdf_width, config.neus.pe_frequencies) == (4, 256, 6)
    assert config.sculpt.lr == 5e-4 and config.sculpt.lambda_eikonal == 0.1
    assert config.motion.candidate_weights == (1.0, 0.8, 0.6, 0.4, 0.2)
    assert config.shape.latent_dim == 16 and config.motion.pose_latent_dim == 32


def test_presets_differ_where_they_should():
    preview, quality = preset("preview"), preset("quality")
    assert preview.neus.sdf_width < quality.neus.sdf_width
    assert preview.sculpt.render_size < quality.sculpt.render_size
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("fast")


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_round_trip_through_a_file(tmp_path, suffix):
    config = replace(preset("tiny"), seed=7)
    path = tmp_path / f"config{suffix}"
    dump_config(config, path)
    assert load_config(path) == config


def test_file_overrides_a_preset_and_checks_types(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('preset = "preview"\n[sculpt]\nsteps = 50\n')
    config = load_config(path)
    assert config.sculpt.steps == 50 and config.neus.sdf_width == preset("preview").neus.sdf_width
    path.write_text('[sculpt]\nsteps = "many"\n')
    with pytest.raises(ConfigError, match="sculpt.steps: expected an integer"):
        load_config(path)
    path.write_text("[sculpt]\nstepz = 3\n")
    with pytest.raises(ConfigError, match="sculpt.stepz: unknown setting"):
        load_config(path)
    path.write_text('device = "tpu"\n')
    with pytest.raises(ConfigError, match="device"):
        load_config(path)


def test_malformed_and_missing_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[sculpt\nsteps = 1")
    with pytest.raises(ConfigError, match="malformed"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="finite"):
        from_dict({"sculpt": {"lr": float("nan")}})


def test_tuples_survive_plain_dicts():
    data = to_dict(StudioConfig())
    assert data["motion"]["candidate_weights"] == [1.0, 0.8, 0.6, 0.4, 0.2]
    assert from_dict(data) == StudioConfig()
