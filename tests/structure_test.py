"""The project's layout holds: dt_jax's modules import only their own floor or lower ones; above dt_jax sit
tfds_builders/ and configs/ (which may use dt_jax's lower floors and never each other or launch/), and launch/ on
top; dt_jax never imports them back. Functions stay short, flags live in launchers and the shared ones are defined
once, one time base, one dataset contract, configs without result logs."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dt_jax"
# Floors, lowest first: a module may import its own floor and those below it.
FLOORS = {"timebase": 0, "safe_pickle": 0, "face": 1, "data": 1, "diffusion": 1, "models": 1, "render": 1,
          "train": 2, "runs": 3, "distill": 4, "eval": 4, "bench": 5, "inference": 5, "export": 5, "viewer": 6}


# What sits above dt_jax may use its floors up to this one (the time base, the face, the data contract, models).
BELOW_BUILDERS_AND_CONFIGS = 1
TOP_LEVEL = ("dt_jax", "tfds_builders", "configs", "launch")


def _modules():
  return sorted(p for p in PACKAGE.rglob("*.py"))


def _sources(folder: str, *, tests: bool = False):
  return sorted(p for p in (ROOT / folder).rglob("*.py")
                if tests or not (p.name.endswith("_test.py") or p.name in ("conftest.py", "fixtures.py")))


def _imports(path: pathlib.Path):
  """Every module name `path` imports (absolute), and the string arguments of importlib.import_module calls."""
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
      yield node.module
      yield from (f"{node.module}.{a.name}" for a in node.names)
    elif isinstance(node, ast.Import):
      yield from (a.name for a in node.names)
    elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in
          ("import_module", "__import__")):
      yield "<dynamic import>"


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


def test_dt_jax_never_imports_what_sits_above_it():
  """Not the builders (a built dataset is read from its files; building is tfds_builders.build, passed in by the
  launchers), not configs, not launchers, and nothing by a name computed at run time."""
  found = [f"{p.relative_to(ROOT)} imports {name}" for p in _modules() for name in _imports(p)
           if name.split(".")[0] in ("tfds_builders", "configs", "launch") or name == "<dynamic import>"]
  assert not found, "\n".join(found)


def test_builders_and_configs_sit_on_dt_jax_lower_floors():
  found = []
  for folder, own in (("tfds_builders", "tfds_builders"), ("configs", "configs")):
    for path in _sources(folder):
      for name in _imports(path):
        top = name.split(".")[0]
        if top in TOP_LEVEL and top not in ("dt_jax", own):
          found.append(f"{path.relative_to(ROOT)} imports {name}")
        if top == "dt_jax" and "." in name and name.split(".")[1] in FLOORS and (
            FLOORS[name.split(".")[1]] > BELOW_BUILDERS_AND_CONFIGS):
          found.append(f"{path.relative_to(ROOT)} imports {name} (floor {FLOORS[name.split('.')[1]]})")
  assert not found, "\n".join(found)


def test_the_rules_hold_above_dt_jax_too():
  """Short functions, no absl flags outside launch/, no print in builders or configs."""
  found = []
  for folder in ("tfds_builders", "configs", "launch"):
    for path in _sources(folder):
      text = path.read_text()
      for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
          lines = node.end_lineno - node.lineno + 1
          found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
      if folder != "launch" and re.search(r"flags\.DEFINE_|config_flags\.|\bprint\(", text):
        found.append(f"{path.relative_to(ROOT)}: flags or print outside launch/")
  assert not found, "\n".join(found)


def test_shared_launcher_flags_are_defined_once():
  """A flag name defined by two launchers is defined in launch/common_flags.py instead (each launcher sets its own
  default); the per-launcher ones below mean different things in each."""
  own = {"audio", "split", "batch_size", "dataset", "teacher", "workdir", "window_seconds", "lookahead_ms", "render",
         "clip", "seed", "config", "emotion"}
  where = {}
  for path in sorted((ROOT / "launch").glob("*.py")):
    for name in re.findall(r"flags\.DEFINE_\w+\(\s*\"(\w+)\"", path.read_text()):
      where.setdefault(name, []).append(path.name)
  twice = {name: files for name, files in where.items() if len(files) > 1 and name not in own}
  assert not twice, twice
  for name in ("checkpoint", "data_dir", "out", "num_steps", "livelink_csv"):
    assert where[name] == ["common_flags.py"], (name, where[name])


def test_one_dataset_contract():
  """The features of every dataset are declared through dt_jax/data/schema.py, nowhere by hand."""
  found = [str(p.relative_to(ROOT)) for p in _sources("tfds_builders") + _modules()
           if "FeaturesDict(" in p.read_text() and p.name != "schema.py"]
  assert not found, found
