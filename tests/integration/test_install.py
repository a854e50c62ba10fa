"""Issue 12, item 2: `cmake --install` gives a tree that an out-of-tree C++20
program builds against, with CMake's find_package(libgreen) and with
pkg-config, and runs linked directly (no preload) or under LD_PRELOAD of the
installed libgreen.so (or green-run): one runtime, mapped once."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import BUILD, REPO

CONSUMER = REPO / "tests" / "consumer"
STEP_TIMEOUT = 240  # each configure, build or install step; a run gets 30 s
RUN_TIMEOUT = 30

EXPECTED = """\
spawn/get: 42
get rethrows: boom
queue sum: 15
timeout: fired around Queue::get
timeout: fired around ::read
std::thread read: x
pool map total: 91
libgreen copies mapped: 1
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH")
           and not k.startswith("GREEN_")}
    env.update(extra)
    return env


def run(cmd, timeout=STEP_TIMEOUT, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{cmd} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    if shutil.which("cmake") is None or not (BUILD / "libgreen.so").exists():
        pytest.skip("needs cmake and a built libgreen.so")
    p = tmp_path_factory.mktemp("prefix")
    run(["cmake", "--install", str(BUILD), "--prefix", str(p)], env=clean_env())
    return p


def test_install_tree(prefix):
    assert (prefix / "lib" / "libgreen.so").is_file()
    assert os.access(prefix / "bin" / "green-run", os.X_OK)
    headers = sorted(f.name for f in (REPO / "include" / "green").iterdir()
                     if f.suffix in (".h", ".hpp"))
    assert sorted(f.name for f in (prefix / "include" / "green").iterdir()) == headers
    cmake_dir = prefix / "lib" / "cmake" / "libgreen"
    assert (cmake_dir / "libgreenConfig.cmake").is_file()
    assert (cmake_dir / "libgreenConfigVersion.cmake").is_file()
    pc = run(["pkg-config", "--cflags", "--libs", "libgreen"],
             env=clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))).stdout.split()
    assert "-lgreen" in pc
    assert any(f.startswith("-I") and Path(f[2:]).resolve() == (prefix / "include").resolve()
               for f in pc), pc


def check_runs(exe, prefix, **env):
    """Linked directly, then under LD_PRELOAD of the installed library, then
    through the installed green-run: the same output each time."""
    lib = str(prefix / "lib" / "libgreen.so")
    runs = {
        "linked": [str(exe)],
        "preloaded": [str(exe)],
        "green-run": [str(prefix / "bin" / "green-run"), str(exe)],
    }
    for how, cmd in runs.items():
        e = clean_env(**env)
        if how == "preloaded":
            e["LD_PRELOAD"] = lib
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=e)
        assert (r.returncode, r.stdout) == (0, EXPECTED), f"{how}: {r.stderr}"


def test_find_package_consumer(prefix, tmp_path):
    build = tmp_path / "build"
    run(["cmake", "-S", str(CONSUMER), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"],
        env=clean_env())
    run(["cmake", "--build", str(build)], env=clean_env())
    # CMake records the installed lib directory as the run path: no variables needed.
    check_runs(build / "consumer", prefix)


def test_pkg_config_consumer(prefix, tmp_path):
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "libgreen"], env=env).stdout.split()
    exe = tmp_path / "consumer"
    run(["c++", "-std=c++20", "-O1", str(CONSUMER / "consumer.cc"), "-o", str(exe), *flags],
        env=env)
    check_runs(exe, prefix, LD_LIBRARY_PATH=str(prefix / "lib"))
