"""Where a result came from: git commit, machine, package versions, profile and wall time."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .storage import CHECKOUT_ROOT

__all__ = ["git_commit", "keras_backend", "backend_compute", "machine", "package_versions", "provenance", "provenance_table", "run_provenance"]

_PACKAGES = ("adcrnn", "numpy", "scipy", "librosa", "soundfile", "scikit-learn", "pandas", "keras", "tensorflow-cpu", "tensorflow", "jax", "jaxlib")


def git_commit(root: str | os.PathLike | None = None) -> str:
    """The checkout's HEAD commit, with ``+dirty`` when tracked files differ from it, or ``"unknown"``."""
    root = Path(root) if root is not None else CHECKOUT_ROOT
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


#: CPU instruction sets that decide which kernels oneDNN and Eigen run, so two machines that
#: differ in them compute (slightly) different floating-point results from the same seed.
_ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16")


def machine() -> dict[str, object]:
    """CPU model and instruction sets, logical cores, memory, OS and Python of this machine."""
    cpu, model = platform.processor() or platform.machine(), None
    isa: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name") and model is None:
                cpu = model = line.split(":", 1)[1].strip()
            elif line.lower().startswith("flags") and not isa:
                flags = set(line.split(":", 1)[1].split())
                isa = [f for f in _ISA_FLAGS if f in flags]
    except OSError:
        pass
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        mem_gib = None
    return {
        "cpu": cpu,
        "isa": isa,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": sys.version.split()[0],
    }


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def keras_backend() -> str | None:
    """The Keras backend this process computes with (``"tensorflow"``, ``"jax"``), or None when it has not imported Keras.

    Both backends are installed on some machines (``make test`` adds the CPU jax wheel), so the
    package versions alone do not say which one trained a fold; this does. Keras is not imported
    here: a process that never needed it (a baseline) records None rather than paying its start-up.
    """
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None else None


def backend_compute() -> dict[str, object] | None:
    """How the loaded backend computes: on TensorFlow, its intra-op thread count (a fold's last
    float digits depend on it); None when this process has not imported Keras. The models set their
    precision per layer, so a fold record adds its model's (``precision``) itself."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    out: dict[str, object] = {}
    tf = sys.modules.get("tensorflow")
    if keras.backend.backend() == "tensorflow" and tf is not None:
        set_threads = tf.config.threading.get_intra_op_parallelism_threads()  # 0: TensorFlow's default
        env = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
        out["intra_op_threads"] = set_threads or (int(env) if env.isdigit() else len(os.sched_getaffinity(0)))
    return out


def provenance(*, profile: str, wall_time_s: float | None = None, **extra: object) -> dict[str, object]:
    """Everything a reader needs to place a result: profile, commit, machine, versions, Keras backend, time.

    Parameters
    ----------
    profile : str
        The compute profile the result was made with.
    wall_time_s : float, optional
        Seconds the computation took.
    **extra
        Further fields (e.g. ``data_dir``), stored as given.
    """
    compute = backend_compute()
    return {
        "profile": profile,
        "git_commit": git_commit(),
        "machine": machine(),
        "packages": package_versions(),
        "keras_backend": keras_backend(),
        **({"backend_compute": compute} if compute is not None else {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 2),
        **extra,
    }


def provenance_table(record: dict):
    """A :func:`provenance` record as a one-column table, nested fields flattened, for the book."""
    import pandas as pd

    flat = {k: v for k, v in record.items() if not isinstance(v, dict)}
    flat.update({f"machine.{k}": v for k, v in record["machine"].items()})
    flat.update({f"version.{k}": v for k, v in record["packages"].items()})
    flat.update({f"backend.{k}": v for k, v in (record.get("backend_compute") or {}).items()})
    return pd.Series(flat, name="value").to_frame()


def run_provenance(results: dict) -> dict[str, object]:
    """Provenance fields of the runs a chapter shows, read from their fold files.

    Parameters
    ----------
    results : dict
        Name -> :class:`~adcrnn_lib.experiments.cv.CVResult`.

    Returns
    -------
    dict
        ``runs`` (name: run folder, or folders for a result pooled over seeds), ``fold_commits`` (the commits that trained the folds),
        ``fold_machines`` (CPU and cores, and the Keras backend, its precision and threads where the fold recorded them) and ``fold_wall_time_s`` (summed over every fold shown, each once).
    """
    commits, machines, total, counted = set(), set(), 0.0, set()
    for result in results.values():
        for fold in result.folds:
            key = (fold.get("config_key"), (fold.get("config") or {}).get("seed"), fold.get("fold"))
            if key[0] is not None and key in counted:
                continue  # the same fold shown twice (a run in two of the chapter's tables)
            counted.add(key)
            prov = fold.get("provenance", {})
            commits.add(str(prov.get("git_commit", "unknown")))
            m = prov.get("machine", {})
            backend = f", Keras on {prov['keras_backend']}" if prov.get("keras_backend") else ""  # older records do not say
            compute = prov.get("backend_compute") or {}
            threads = compute.get("intra_op_threads")
            shown = [str(compute["precision"])] if compute.get("precision") else []
            shown += [f"{threads} thread{'s' if threads != 1 else ''}"] if threads else []
            if shown:
                backend += f" ({', '.join(shown)})"
            machines.add(f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores{backend}")
            total += float(fold.get("wall_time_s", 0.0))
    return {
        "runs": "; ".join(f"{name}: {', '.join(dict.fromkeys(f.get('config_key') or r.run_dir.name for f in r.folds)) or r.run_dir.name}" for name, r in results.items()),
        "fold_commits": ", ".join(sorted(commits)),
        "fold_machines": "; ".join(sorted(machines)),
        "fold_wall_time_s": round(total, 1),
    }
