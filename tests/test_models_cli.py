"""`llamatui models` and the config file it reads."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from clitools import llamatui

from llamatui.engines import registry
from llamatui.tui.config import ConfigError, load_config


@pytest.fixture
def model_dir(tmp_path: Path, smollm2: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    (d / smollm2.name).symlink_to(smollm2)
    (d / "broken.gguf").write_text("not a model")
    return d


def test_models_table_and_json(model_dir: Path) -> None:
    done = llamatui("models", "--models-dir", str(model_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ARCH", "PARAMS", "QUANT"]
    assert lines[1].split()[:4] == ["SmolLM2-135M-Instruct.Q4_1", "llama", "134.5", "M"]
    assert "Unusable:" in lines and any("broken: not a GGUF model file" in ln for ln in lines)
    rows = {
        r["name"]: r
        for r in json.loads(
            llamatui("models", "--json", "--ctx", "8192", "--models-dir", str(model_dir)).stdout
        )
    }
    smol = rows["SmolLM2-135M-Instruct.Q4_1"]
    assert smol["usable"] and smol["engine"] == "llamacpp" and smol["ctx"] == 8192
    assert smol["ref"] == f"llamacpp:{smol['path']}" and smol["reason"] is None
    assert smol["fit"] in ("fits", "tight", "will not fit") and smol["ram_needed"] > 98e6
    assert not rows["broken"]["usable"] and "not a GGUF" in rows["broken"]["error"]


def test_the_packaged_default_model_is_listed_with_no_model_folders(
    tmp_path: Path, smollm2: Path
) -> None:
    # Issue 12: "No models found" while the default model ran.
    empty = tmp_path / "none"
    empty.mkdir()
    rows = json.loads(llamatui("models", "--json", "--models-dir", str(empty)).stdout)
    assert [(r["name"], r["path"], r["usable"]) for r in rows] == [
        ("SmolLM2-135M-Instruct.Q4_1", str(smollm2), True)
    ]


def test_exllama_folders_are_listed_with_why_they_cannot_run_here(model_dir: Path) -> None:
    for name, quant in (("Llama-exl3", {"quant_method": "exl3", "bits": 4.0}), ("Qwen-hf", None)):
        folder = model_dir / name
        folder.mkdir()
        config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
        if quant:
            config["quantization_config"] = quant
        (folder / "config.json").write_text(json.dumps(config))
        header = json.dumps({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 32]}})
        (folder / "model.safetensors").write_bytes(
            struct.pack("<Q", len(header)) + header.encode() + bytes(32)
        )
    done = llamatui("models", "--json", "--models-dir", str(model_dir))
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["SmolLM2-135M-Instruct.Q4_1"]["usable"]
    why = registry.get("exllama").unavailable()
    assert why is not None  # the exllama engine is not in this version yet
    for name, fmt in (("Llama-exl3", "exl3"), ("Qwen-hf", "hf")):
        row = rows[name]
        assert (row["format"], row["engine"], row["error"]) == (fmt, "exllama", None)
        assert not row["usable"] and row["reason"] == f"exllama {why}"
        assert row["vram_needed"] > 0 and row["ram_needed"] == 0  # exllama: all on the GPU
    if registry.get("exllama").check() is not None:  # no NVIDIA GPU or no exllamav3 here
        assert "needs an NVIDIA GPU with CUDA" in rows["Qwen-hf"]["reason"]
    table = llamatui("models", "--models-dir", str(model_dir)).stdout
    assert f"  Llama-exl3: exllama {why}" in table.splitlines()


def test_config_model_dirs(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(f'model_dirs = ["{model_dir}"]\n')
    monkeypatch.setenv("LLAMATUI_CONFIG_DIR", str(cfg.parent))
    assert load_config(cfg).model_dirs == (model_dir,)
    done = llamatui("models")
    assert "SmolLM2-135M-Instruct.Q4_1" in done.stdout
    cfg.write_text("model_dirs = [1, 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(cfg)
    cfg.write_text('model_dir = ["x"]\n')
    with pytest.raises(ConfigError, match="unknown setting 'model_dir'"):
        load_config(cfg)
    cfg.write_text("model_dirs = 3\n")
    with pytest.raises(ConfigError, match="must be a list"):
        load_config(cfg)
    done = llamatui("models")
    assert done.returncode == 0 and "line 1: model_dirs must be a list" in done.stderr
    # One wrong setting does not cost the others (issue 12): the folders still apply.
    cfg.write_text(f'model_dirs = ["{model_dir}"]\ncolour = "blue"\n')
    done = llamatui("models", "--json")
    assert done.returncode == 0 and "line 2: unknown setting 'colour'" in done.stderr
    assert any(r["name"] == "broken" for r in json.loads(done.stdout))
    assert load_config(tmp_path / "none.toml").model_dirs  # defaults


def test_gpu_layers_in_a_profile_split_the_estimate(model_dir: Path) -> None:
    from llamatui.tui.cli.models import free_vram
    from llamatui.tui.config import Profile, save_profile
    from llamatui.tui.paths import config_path

    def smol() -> dict:  # type: ignore[type-arg]
        done = llamatui("models", "--json", "--ctx", "2048", "--models-dir", str(model_dir))
        return next(r for r in json.loads(done.stdout) if r["name"].startswith("SmolLM2"))

    whole = smol()
    assert whole["vram_needed"] == 0
    config_path().parent.mkdir(parents=True, exist_ok=True)
    name = "SmolLM2-135M-Instruct.Q4_1"
    save_profile(config_path(), name, Profile(engines={"llamacpp": {"gpu_layers": 15}}))
    half = smol()  # 15 of its 30 layers on the GPU
    assert half["ram_needed"] + half["vram_needed"] == whole["ram_needed"]
    assert 0.3 < half["vram_needed"] / whole["ram_needed"] < 0.6
    if free_vram() is None:
        assert half["fit"] == "no GPU"
    else:
        assert half["fit"] in ("fits", "tight", "unknown", "will not fit")
    table = llamatui("models", "--ctx", "2048", "--models-dir", str(model_dir)).stdout
    assert " VRAM" in next(line for line in table.splitlines() if line.startswith(name))
