"""The package's layout holds: every module imports only its own floor or lower ones, functions stay short, flags
live in launchers, one time base, configs without result logs."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dt_jax"
# Floors, lowest first: a module may import its own floor and those below it.
FLOORS = {"timebase": 0, "safe_pickle": 0, "face": 1, "data": 1, "diffusion": 1, "models": 1, "render": 1,
          "train": 2, "runs": 3, "distill": 4, "eval": 4, "bench": 5, "inference": 5, "export": 5}


def _modules():
  return sorted(p for p in PACKAGE.rglob("*.py"))


def _room(path: pathlib.Path) -> str:
  return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_rooms(tree):
  for node in ast.walk(tree):
    names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
             [a.name for a in node.names] if isinstance(node, ast.Import) else [])
    if isinstance(node, ast.ImportFrom) and node.module == "dt_jax":
      names = [f"dt_jax.{a.name}" for a in node.names]
    for name in names:
      if name.startswith("dt_jax."):
        yield name.split(".")[1]


def test_every_room_has_a_floor_and_no_module_imports_upwards():
  upward = []
  for path in _modules():
    room = _room(path)
    if room == "__init__":
      continue
    assert room in FLOORS, f"{path}: {room} has no floor in this test's FLOORS"
    for other in _imported_rooms(ast.parse(path.read_text())):
      if FLOORS[other] > FLOORS[room]:
        upward.append(f"{path.relative_to(ROOT)} ({room}, floor {FLOORS[room]}) imports {other} "
                      f"(floor {FLOORS[other]})")
  assert not upward, "\n".join(upward)


def test_no_function_over_sixty_lines():
  long = []
  for path in _modules():
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
  assert not long, "\n".join(long)


def test_flags_only_in_launchers():
  found = [str(p.relative_to(ROOT)) for p in _modules() if re.search(r"flags\.DEFINE_|config_flags\.", p.read_text())]
  assert not found, found


def test_one_time_base():
  defs = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in list(_modules()) + list((ROOT / "tfds_builders").rglob("*.py"))
          for m in re.finditer(r"^(FPS|SAMPLE_RATE)\s*=.*$", p.read_text(), re.M)]
  assert defs == ["dt_jax/timebase.py: SAMPLE_RATE = 16000      # Hz, every waveform the models see",
                  "dt_jax/timebase.py: FPS = 30                 # motion frames per second"], defs


def test_configs_hold_reasons_not_results():
  for path in (ROOT / "configs").glob("*.py"):
    text = path.read_text()
    assert not re.search(r"\b[0-9a-f]{7}\b", text), f"{path}: a commit hash"
    assert not re.search(r"\b(LVE|EVE|val/out|demo at)\b", text), f"{path}: a result log"


def test_the_readme_is_a_guide_not_a_log():
  """The README keeps what a user reproduces with its commands; commit hashes and the history of runs belong in
  docs/findings.md."""
  text = (ROOT / "README.md").read_text()
  hashes = re.findall(r"\b[0-9a-f]{7,40}\b", text)
  assert not hashes, f"README.md names commits: {hashes}"
  assert not re.search(r"\b(fresh clone at|demo at|at commit)\b", text), "README.md keeps a run log"
  assert all(link.startswith(("http", "#")) or (ROOT / link.split("#")[0]).exists()
             for link in re.findall(r"\]\(([^)]+)\)", text)), "README.md links to a file that is not there"
