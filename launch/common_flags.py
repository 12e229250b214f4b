"""The flags several launchers share, each defined here once: a launcher calls the definer of each one it takes,
with its own default where it differs. Nothing is defined on import, so a launcher's own flag of another name
never collides."""
from absl import flags


def checkpoint(*, required: bool = True) -> flags.FlagHolder:
  return flags.DEFINE_string("checkpoint", None, "The run to use: a teacher workdir, a distill workdir (its last "
                             "round) or one round's folder.", required=required)


def data_dir(default: str | None = None) -> flags.FlagHolder:
  return flags.DEFINE_string("data_dir", default, "Where the dataset is built" + (
      "." if default else " (default: the run's config's data_dir)."))


def out(default: str | None = None, *, required: bool = False, what: str = "Output folder.") -> flags.FlagHolder:
  return flags.DEFINE_string("out", default, what, required=required)


def num_steps() -> flags.FlagHolder:
  return flags.DEFINE_integer("num_steps", None, "Sampling (DDIM) steps (default: the step count the run was "
                              "trained for).", lower_bound=1)


def noise_seed() -> flags.FlagHolder:
  return flags.DEFINE_integer("seed", 0, "Noise seed.")


def frame_size() -> flags.FlagHolder:
  return flags.DEFINE_integer("size", 256, "Rendered frame width and height in pixels.", lower_bound=16)


def rig_outputs() -> tuple[flags.FlagHolder, flags.FlagHolder, flags.FlagHolder]:
  """--gltf, --livelink_csv, --json: the rig files written beside the animation (dt_jax.inference.outputs)."""
  return (flags.DEFINE_bool("gltf", False, "Also write a binary glTF (.glb) with ARKit morph targets and the "
                            "animation (a vertex dataset: a .pc2 point cache), with the audio as a wav beside it."),
          flags.DEFINE_bool("livelink_csv", False, "Also write the Live Link Face CSV (Unreal / MetaHuman)."),
          flags.DEFINE_bool("json", False, "Also write per-frame {ARKit name: weight} JSON (web players)."))
