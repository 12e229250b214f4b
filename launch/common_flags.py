"""The flags several launchers share, defined once: a launcher imports the ones it uses and sets its own default
(flags.set_default) or makes one required (flags.mark_flag_as_required) where it differs."""
from absl import flags

CHECKPOINT = flags.DEFINE_string("checkpoint", None, "The run to use: a teacher workdir, a distill workdir (its last "
                                 "round) or one round's folder.")
DATA_DIR = flags.DEFINE_string("data_dir", None, "Where the dataset is built (launchers that read a run: default "
                               "the run's config's data_dir).")
OUT = flags.DEFINE_string("out", None, "Output folder.")
NUM_STEPS = flags.DEFINE_integer("num_steps", None, "Sampling (DDIM) steps (default: the step count the run was "
                                 "trained for).", lower_bound=1)
SEED = flags.DEFINE_integer("seed", 0, "Noise seed.")
GLTF = flags.DEFINE_bool("gltf", False, "Also write a binary glTF (.glb) with ARKit morph targets and the animation "
                         "(a vertex dataset: a .pc2 point cache), with the audio as a wav beside it.")
LIVELINK_CSV = flags.DEFINE_bool("livelink_csv", False, "Also write the Live Link Face CSV (Unreal / MetaHuman).")
JSON = flags.DEFINE_bool("json", False, "Also write per-frame {ARKit name: weight} JSON (web players).")
