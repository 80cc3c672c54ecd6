"""Named compute profiles: ``smoke`` (tests), ``cpu`` (the default, the whole book on 2 cores) and
``paper`` (the paper's hyperparameters exactly).

A profile changes sizes, epoch and step counts, never the method: every profile builds the same
layers, losses and folds. All such numbers live here and nowhere else.

.. warning::

   Every accuracy quoted below was measured before 2026-11-30 with TensorFlow's grappler remapper
   on, which computed the model's LeakyReLU with slope 0.2 instead of 0.01 in some compiled steps
   and not in others (see :func:`~adcrnn_lib.models.disable_tf_remapper`; results version 2). The
   timings still hold; the accuracies, and the choices made from them, are being measured again by
   the training-budget study (:data:`~adcrnn_lib.grid.STUDY_LEVERS`, the book's chapter "Training
   budget"). With the fix and nothing else changed, the ``cpu`` profile scored 69.5 / 68.6 % WA /
   UA over the five folds of seed 0, against 66.0 / 65.1 % before (+3.5 WA points, bootstrap 95%
   interval -1.7 to +8.4).

Batch-norm momentum of ``cpu`` (2026-11-30, results version 2, paper protocol, no augmentation,
Lf1, seeds 0 and 1 x 5 folds; ``results/reference/cpu``): with Keras's 0.99 and about 16 steps an
epoch, the moving statistics the model is validated with lag the weights for several epochs;
validation UA sat at chance (1/7) for up to five epochs, and in seed 1's fold 4 patience stopped
training there (23.4 % WA). Momentum 0.9 gave 72.9 / 72.1 % WA / UA against 63.8 / 62.1 % (UA
+10.0 points paired over seeds x folds, bootstrap interval +6.6 to +13.1; seed means 72.1 and 72.1
% UA against 68.6 and 55.7 %), at the same cost per epoch. So ``cpu`` uses 0.9; the other levers
of the study are measured from there.

Training recipe of ``cpu`` (2026-11-30, results version 2, the training-budget study, paper
protocol, no augmentation, Lf1, seeds 0 and 1 x 5 folds; ``results/reference/cpu``): from the
recipe above (15 epochs, a constant Adam step, the best validation epoch's weights), 30 epochs with
the step decayed to zero along a cosine and the mean of the last 5 epochs' weights (BN statistics
included) gave 79.4 / 79.0 % WA / UA against 72.9 / 72.1 % (seed means 80.6 / 80.1 and 78.3 /
77.9 %; paired over seeds x folds +6.5 WA points, bootstrap 95% interval +4.2 to +9.0, and +6.9 UA,
+4.6 to +9.4). So ``cpu`` trains that way; each fold takes about twice as long. Against the
ComParE baseline in seed 0's folds (84.4 % UA) it is still -4.3 UA points (-8.1 to -0.6).
Most of it is the selection rule: the mean of the last 5 epochs alone (15 epochs, constant step)
gave 76.7 / 76.8 % (+4.7 UA points, +2.1 to +7.4). Keeping the mean of the last weights instead of
the best validation epoch also ends selection on the 50-odd validation utterances, whose UA swung
by 10-30 points between epochs. The cosine schedule alone (15 epochs, best validation epoch) gave
77.1 / 76.6 % (+4.5 UA points, +2.1 to +7.1): each lever alone takes most of the gain, and
together they add about two points more. The last epoch's weights alone (15 epochs, constant
step) gave 70.3 / 71.0 % (-1.1 UA points, -4.0 to +2.3): what helps is averaging the last
epochs, not merely dropping the selection on validation. Thirty epochs alone (constant step, best
validation epoch, patience 8) gave 74.1 / 74.8 % (+2.7 UA points, +0.1 to +5.2; seed means 76.9
and 72.7 % UA), most folds stopping between epochs 12 and 19. Batch 16 instead of 32 (twice the
steps) gave 72.0 / 72.1 % (0.0 UA points, -3.0 to +3.0): no effect, so ``cpu`` keeps 32. Weight
decay 0.05 gave 70.4 / 70.7 % (-1.5 UA points, -4.2 to +1.6; -2.5 WA, -5.2 to +0.2) and 2 s
segments with half overlap 71.2 / 71.3 % (-0.8 UA points, -3.9 to +2.4): neither helps, so
``cpu`` keeps no weight decay. 1 s segments with half overlap gave 74.3 / 75.0 % (+2.8 UA
points, -0.3 to +5.8; +1.4 WA, -1.6 to +4.3) for about 1.4x the fold time: a possible gain whose
interval still crosses zero; it was then measured again on the recipe below (see "Segments of
``cpu``"). Narrower layers (8 and 16 filters, LSTM 32, linear 64) gave 65.6 / 64.8 % against the
starting recipe's 72.9 / 72.1 % (-7.3 UA points, -10.2 to -4.1): width matters at this budget
below 16/32, but not above it: 32 and 64 filters (LSTM 128, linear 256; 2026-12-01) gave 72.1 /
72.5 % (+0.4 UA points, -2.6 to +3.6; -0.8 WA, -3.8 to +2.1; seed means 70.5 / 71.8 and 73.6 /
73.1 %) for about twice the fold time, so ``cpu`` keeps 16 and 32. Under leave-one-speaker-out (seed 0, 10 folds, no
augmentation) the recipe gives 72.7 / 72.1 % WA / UA (58.5 % UA with the recipe before), against
80.2 / 75.0 % for the ComParE baseline in the same folds (its run is kept in the reference as
``cpu/ad3ee60580b46f93``; the training-budget chapter pairs it with the profile's own, see below).

Segments of ``cpu`` (2026-11-30, results version 2, paper protocol, no augmentation, Lf1, seeds 0
and 1 x 5 folds; ``results/reference/cpu``): with the recipe above, cutting 1 s segments that
overlap by half (``segment_frames=100``, ``segment_hop=50``; about 1,900 training segments a
fold instead of 500, each a third as long) gave 82.2 / 81.0 % WA / UA against 79.4 / 79.0 % with
3 s segments (seed means 83.6 / 82.4 and 80.7 / 79.5 %; paired over seeds x folds +2.7 WA points,
bootstrap 95% interval +0.4 to +5.0, and +2.0 UA, -0.4 to +4.4). The same change on the starting
recipe had given +2.8 UA (-0.3 to +5.8), so two independent measurements point the same way, and
every seed of the new recipe is above 80 % WA. So ``cpu`` cuts 1 s segments; how an utterance is
cut is one of the details the paper leaves open (``paper`` keeps ACRNN's 3 s). The cost: on the
starting recipe, on an idle machine, 1 s segments took about 1.4x the fold time of 3 s (58-124 s
a fold); the runs of the new recipe shared the two cores with a second training (222-493 s a
fold), so they give no fair ratio.

Epochs of the recipe (same study, seeds 0 and 1 x 5 folds, 3 s segments): 15 epochs instead of 30
(the cosine decay and the mean of the last 5 kept) gave 78.8 / 78.2 % WA / UA against 79.4 / 79.0
% (-0.7 WA points, bootstrap 95% interval -2.3 to +1.2; -0.8 UA, -2.5 to +0.9): within the noise
for half the optimizer steps, so the epochs are where the book's cold-build time can be cut.
Then measured with 1 s segments: 82.7 / 81.7 % WA / UA in 15 epochs against 82.2 / 81.0 % in 30
(+0.6 WA points, -0.9 to +2.1; +0.7 UA, -0.8 to +2.2; seed means 83.6 / 82.7 and 81.9 / 80.6 %),
and +3.3 WA points (+1.1 to +5.7) and +2.6 UA (+0.4 to +5.2) against the 30-epoch recipe with 3 s
segments. So ``cpu`` trained 15 epochs with 1 s segments: the accuracy of 30 for half the
optimizer steps.

Cost of ``cpu`` (2026-12-01, measured): a cold ``make book`` at that profile (1 s segments
overlapping by half) was started from a fresh clone at commit 2538549 on an idle 2-core machine
and stopped after 7 of its 23 runs: its folds took 72 s (no augmentation) and 112-147 s (time or
pitch shift), against about 40 s and 55 s at the profile of the 78.7-minute cold build of
2026-11-28. Summed over the grid (Table V twice, Table IV, leave-one-speaker-out with 10 folds a
run, the GANs, the baselines), those fold times predict about 3.8 hours, over the 3-hour budget.
Three cheaper variants, each 2 seeds x 5 folds, paired with the profile over seeds x folds
(bootstrap 95% intervals; fold times of one fold each, run one after another on the idle machine):

===========================================  ===========  ============================  ===========
variant (the rest as the profile)            WA / UA %    WA vs the profile (points)    fold time
===========================================  ===========  ============================  ===========
the profile (1 s, half overlap, 15 epochs)   82.7 / 81.7  -                             71 s
10 epochs                                    81.0 / 80.4  -1.7 (-3.2 to -0.2)           48 s
1 s segments that do not overlap             81.3 / 80.7  -1.4 (-3.6 to +0.7)           43 s
batch 64                                     81.9 / 81.3  -0.8 (-2.4 to +0.8)           64-81 s
===========================================  ===========  ============================  ===========

An epoch's time is its training steps' (3.6-4.9 s; scoring the validation part takes 0.15 s), so
it follows the number of training segments times the epochs, not the batch size. So ``cpu`` now
cuts 1 s segments that do not overlap (``segment_hop=100``): of the two variants that save time,
the cheaper (0.61x the fold time) and the one whose interval includes no loss, with both seeds
above 78 % UA. The same fold times predicted a cold build of about 2.5 hours on an idle machine;
the cold build of commit a2ea14b (fresh clone, empty results and caches) finished its 20 runs of
the baselines and Tables IV and V after 2 h 0 min and the whole book after 2 h 59.4 min of compute,
in three parts with two restarts (see the README); a rebuild with every fold cached, 1.7 min.
The price is paid across speakers: leaving one speaker out (seed 0, 10 folds, no augmentation),
the profile scores 69.9 / 68.3 % WA / UA against 72.7 / 72.1 % for the recipe of 3 s segments in
30 epochs (-3.8 UA points, bootstrap 95% interval -7.2 to -0.3; paired t-test over the 10
speakers p = 0.10), under a goal of 70 % UA. The paper's protocol, which chose the profile, does
not show it; the book's 3-hour cold build and that goal cannot both be met at this machine's cost.

Training details the paper leaves open (batch-norm momentum, learning-rate schedule, selection
rule, weight decay, segment length and hop) are fields too, at the values every run before them
used (:data:`LEGACY_TRAINING`); a single run may change them (:data:`OVERRIDABLE`,
``ExperimentConfig.overrides``, ``adcrnn cv --set``).

Precision was chosen by measurement on this project's 2-core AMD EPYC (AVX512-BF16), training
with batch 16 on 300 x 40 x 3 inputs, TensorFlow backend (``benchmarks/bench_train.py``,
2026-11-27):

============  ==================  ====================  ==============================
widths        float32             mixed bfloat16        with XLA (``jit_compile``)
============  ==================  ====================  ==============================
``cpu``       159 samples/s       156 samples/s         slower: 109 (f32), 67 (bf16)
``paper``     13.8 samples/s      18.6 samples/s        slower: 9.3 (f32), 4.4 (bf16)
============  ==================  ====================  ==============================

So ``paper`` computes in mixed bfloat16 where the CPU supports it (1.35x training, about 1.9x
inference) and ``cpu`` stays in float32. XLA is off everywhere. (The ``cpu`` row was measured
with the earlier ``cpu`` widths, 32 and 64 filters; see below.)

Widths of ``cpu``: at 32 convolution and 64 dilated filters, three quarters of a training step's
arithmetic (about 1.1 GFLOP per segment) is in the three dilated convolutions, and an epoch of
600 segments took 5.1 s, about two thirds of this CPU's float32 peak; mixed bfloat16 made it 4.1 s,
batch 64 or 128 4.8 or 4.5 s, unrolled LSTMs 3.6 s but 50 s of tracing per fold. Halving the
widths to 16 and 32 filters cut that epoch to 2.1 s (2.4x, same benchmark and machine, idle), and
the paper-protocol folds (no augmentation, lf1, seed 0, 2026-11-28) took 34-42 s, with WA / UA
66.0 / 65.1 % against 65.0 / 63.4 % at the earlier widths (the same five folds and 15 epochs). So ``cpu`` uses 16 and 32: the book's grid at
the earlier widths summed to 2.7 hours of fold time, over its 2-hour budget.

Optimizer budget of ``cpu``, measured on the real corpus (paper protocol, seed 0, lf1, no
augmentation, 2026-11-27):

=====================  ================  ================  ===================
Adam step, batch       fold 0 WA / UA    fold 1 WA / UA    time per fold
=====================  ================  ================  ===================
1e-4, 16 (the paper)   63.0 / 60.4 %     (not run)         122 s (28 epochs)
1e-3, 16               79.6 / 79.3 %     51.4 / 56.0 %     91-124 s
1e-3, 32               78.7 / 80.4 %     66.4 / 65.1 %     98-105 s
=====================  ================  ================  ===================

With at most 30 epochs on a CPU, the paper's step of 1e-4 has not converged (the training loss
is still falling when patience stops it), so ``cpu`` takes a 10x larger step and batches of 32:
a compute-budget change of the optimizer's step size and batch, stated here and in the book; the
layers, losses and folds are the paper's. ``paper`` keeps Adam 1e-4 and batch 16 exactly.

Epochs of ``cpu``: with at most 25 epochs (patience 6) the best validation epoch fell between 9
and 20 on the five folds, and a fold took about 100 s (130 s balanced). The book needs 75
ADCRNN fold trainings (Tables IV and V, leave-one-speaker-out) and 60 GANs, so ``cpu`` stops at
15 epochs with patience 4. At the 16/32 widths, 25 epochs (patience 6) gave 67.3 / 65.9 % WA /
UA on the same five folds for a third more time: within the fold-to-fold noise.

GAN sizes, measured with ``benchmarks/bench_gan.py`` (two runs, 2026-11-27 and -28, each while a
training ran on the same 2 cores): at the paper's D = 64 and batch 64 a WaveGAN critic update takes
5.2-7.4 s and a generator update 3.0-3.5 s, so the paper's 90,000 steps would take 720-1,000 hours
per GAN on this machine (SpecGAN's 35,000: 420-440 hours), and the book trains 30 of each. ``cpu`` uses D = 8, batch 32
(0.17 s and 0.06 s per update) and 20 generator steps, about 20 s per GAN: enough to run the whole
method end to end (train in each fold, generate, screen, balance), not enough to learn speech. The
quality report in the augmentation chapter measures what that gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from .exceptions import ParameterError

__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile", "LR_SCHEDULES", "SELECTIONS", "OVERRIDABLE", "LEGACY_TRAINING"]

#: Learning-rate schedules of :attr:`Profile.lr_schedule`.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: Model-selection rules of :attr:`Profile.selection`.
SELECTIONS: tuple[str, ...] = ("best", "last", "average")
#: Training settings a run may override (``ExperimentConfig.overrides``): sizes and the optimizer,
#: never the folds (``n_splits``), the loss weights or the GANs.
OVERRIDABLE: tuple[str, ...] = (
    "conv_filters",
    "dilated_filters",
    "linear_units",
    "lstm_units",
    "learning_rate",
    "batch_size",
    "epochs",
    "patience",
    "bn_momentum",
    "lr_schedule",
    "warmup_epochs",
    "selection",
    "average_last",
    "weight_decay",
    "segment_frames",
    "segment_hop",
    "level_norm",
)
#: Settings added after the first results, at the values every earlier run trained with. A
#: configuration's hash leaves them out while they have these values, so earlier runs keep their keys.
LEGACY_TRAINING: dict[str, object] = {
    "bn_momentum": 0.99,
    "lr_schedule": "constant",
    "warmup_epochs": 0,
    "selection": "best",
    "average_last": 5,
    "weight_decay": 0.0,
    "segment_frames": 300,
    "segment_hop": 300,
    "level_norm": "none",
}


@dataclass(frozen=True)
class Profile:
    """The sizes and step counts of one compute budget.

    Attributes
    ----------
    name : str
        ``"smoke"``, ``"cpu"`` or ``"paper"``.
    description : str
        What the profile is for, shown in the book's provenance.
    conv_filters, dilated_filters : int
        Channels of the first convolution (paper: 128) and of the dilated ones (256).
    linear_units : int
        Width of the linear layer before the BiLSTMs (512).
    lstm_units : int
        LSTM units per direction (256, so 512 concatenated).
    embedding_units : int
        Width of the FC layer the center loss acts on (64).
    dropout : float
        Dropout after the FC layer (0.5).
    learning_rate : float
        Adam's learning rate (1e-4).
    batch_size : int
        Mini-batch size (16).
    epochs : int
        Most epochs per fold; the best epoch on the validation split is kept.
    patience : int
        Stop a fold after this many epochs without a better validation UA.
    n_splits : int
        Folds of the paper's protocol (5).
    mixed_precision : bool
        Mixed bfloat16 compute, float32 variables, logits and losses.
    epsilon : float
        Weight of the center term in Lf1, Lf3, Lf4 (eq. 8; not given in the paper).
    center_alpha : float
        Rate of the center update (Wen et al. 2016 use 0.5).
    gan_size : int
        Model size D of WaveGAN and SpecGAN (Tables II and III: 64).
    gan_batch_size : int
        GAN mini-batch (64).
    wavegan_steps, specgan_steps : int
        Generator updates per GAN (90,000 and 35,000 in the paper); each takes
        ``gan_critic_steps`` critic updates.
    gan_critic_steps : int
        Critic updates per generator update (WGAN-GP: 5).
    gan_checkpoint_every : int
        Generator steps between checkpoints; a killed GAN training resumes from the last one.
    bn_momentum : float
        Momentum of the moving statistics of the batch norm after the linear layer (paper: not
        given; Keras's default 0.99).
    lr_schedule : {"constant", "cosine"}
        Adam's step over training: constant, or a linear warm-up over ``warmup_epochs`` then a
        cosine decay to zero at the last epoch (paper: not given; constant).
    warmup_epochs : int
        Epochs of linear warm-up (``"cosine"`` only).
    selection : {"best", "last", "average"}
        Which weights a fold keeps: those of the best validation epoch (the earliest on ties;
        training stops after ``patience`` epochs without a better one), those of the last epoch,
        or the mean of the weights of the last ``average_last`` epochs (paper: not given; best).
    average_last : int
        Epochs averaged by ``selection="average"``.
    weight_decay : float
        Decoupled weight decay (AdamW) per step, relative to the learning rate; 0 is plain Adam
        (paper: not given; 0).
    segment_frames : int
        Frames per model input segment (paper: not given; ACRNN's 300, 3 s).
    segment_hop : int
        Largest step between the starts of an utterance's segments, at most ``segment_frames``
        (300: segments just cover the utterance, as ACRNN; half the length: they overlap by half).
    level_norm : {"none", "utterance"}
        How the recording level is taken out of the features (the paper leaves it open):
        ``"none"``, or ``"utterance"``: each utterance's static log-Mel channel loses its own mean
        per band before the training fold's z-scoring, so a gain changes nothing
        (:class:`~adcrnn_lib.features.Normalizer`).
    """

    name: str
    description: str
    conv_filters: int = 128
    dilated_filters: int = 256
    linear_units: int = 512
    lstm_units: int = 256
    embedding_units: int = 64
    dropout: float = 0.5
    learning_rate: float = 1e-4
    batch_size: int = 16
    epochs: int = 100
    patience: int = 20
    n_splits: int = 5
    mixed_precision: bool = False
    epsilon: float = 0.1
    center_alpha: float = 0.5
    gan_size: int = 64
    gan_batch_size: int = 64
    wavegan_steps: int = 90_000
    specgan_steps: int = 35_000
    gan_critic_steps: int = 5
    gan_checkpoint_every: int = 1_000
    bn_momentum: float = 0.99
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    selection: str = "best"
    average_last: int = 5
    weight_decay: float = 0.0
    segment_frames: int = 300
    segment_hop: int = 300
    level_norm: str = "none"

    def __post_init__(self) -> None:
        from .features import LEVEL_NORMS

        if self.level_norm not in LEVEL_NORMS:
            raise ParameterError(f"level_norm={self.level_norm!r}; allowed: {', '.join(LEVEL_NORMS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ParameterError(f"lr_schedule={self.lr_schedule!r}; allowed: {', '.join(LR_SCHEDULES)}")
        if self.selection not in SELECTIONS:
            raise ParameterError(f"selection={self.selection!r}; allowed: {', '.join(SELECTIONS)}")
        if isinstance(self.bn_momentum, bool) or not isinstance(self.bn_momentum, (int, float)) or not 0.0 <= self.bn_momentum < 1.0:
            raise ParameterError(f"bn_momentum={self.bn_momentum!r}; must be a number in [0, 1)")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) or not 0.0 <= self.weight_decay < 1.0:
            raise ParameterError(f"weight_decay={self.weight_decay!r}; must be a number in [0, 1)")
        for name in ("epochs", "patience", "batch_size", "average_last", "segment_frames", "segment_hop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r}; must be an integer >= 1")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.epochs:
            raise ParameterError(f"warmup_epochs={self.warmup_epochs!r}; must be an integer in [0, epochs={self.epochs})")
        if self.segment_hop > self.segment_frames:
            raise ParameterError(f"segment_hop={self.segment_hop} is more than segment_frames={self.segment_frames}")
        if self.selection == "average" and self.average_last > self.epochs:
            raise ParameterError(f"average_last={self.average_last} is more than epochs={self.epochs}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ParameterError(f"learning_rate={self.learning_rate!r}; must be a number > 0")

    def to_dict(self) -> dict:
        """All fields, for provenance records."""
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, object] | Iterable[tuple[str, object]]) -> Profile:
        """This profile with some training settings replaced (validated; see :data:`OVERRIDABLE`).

        Raises
        ------
        ParameterError
            For a field that is not in :data:`OVERRIDABLE` or a value the profile refuses.
        """
        changes = dict(overrides)
        bad = sorted(set(changes) - set(OVERRIDABLE))
        if bad:
            raise ParameterError(f"cannot override {', '.join(bad)}; allowed: {', '.join(OVERRIDABLE)}")
        return replace(self, **changes) if changes else self


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke",
        "CI and tests: tiny widths, one epoch, 2 folds of the paper protocol, seconds.",
        conv_filters=4,
        dilated_filters=8,
        linear_units=16,
        lstm_units=8,
        embedding_units=8,
        epochs=1,
        patience=1,
        n_splits=2,  # CI budget: the whole book's grid in minutes; cpu and paper keep the paper's 5
        mixed_precision=False,
        gan_size=2,
        gan_batch_size=4,
        wavegan_steps=2,
        specgan_steps=2,
        gan_critic_steps=1,
        gan_checkpoint_every=1,
    ),
    "cpu": Profile(
        "cpu",
        # the description is part of every run's key (Profile.to_dict): editing it starts every cpu run anew
        "The default: the whole book on 2 CPU cores; narrower layers, fewer epochs, Adam 1e-3 and batch 32.",
        conv_filters=16,  # measured: half the earlier 32/64, 2.4x faster epochs at no measured loss (module docstring)
        dilated_filters=32,
        linear_units=128,
        lstm_units=64,
        embedding_units=64,
        learning_rate=1e-3,  # measured: the paper's 1e-4 does not converge in a CPU budget (module docstring)
        batch_size=32,
        epochs=15,  # measured (module docstring): with 1 s segments, 15 epochs score as 30 (+0.6 WA [-0.9, +2.1]) at half the cost
        patience=4,  # unused by the "average" selection; part of the run keys, so left as it was
        lr_schedule="cosine",  # measured (module docstring): warm-up free cosine decay to zero over all its epochs
        selection="average",  # measured (module docstring): the mean of the last 5 epochs' weights
        average_last=5,
        mixed_precision=False,  # measured: no faster in bfloat16 at these widths (module docstring)
        bn_momentum=0.9,  # measured: 0.99 left validation at chance for epochs, and one fold stopped there (module docstring)
        segment_frames=100,  # measured with the recipe above (module docstring): 1 s segments, +2.7 WA points over 3 s
        segment_hop=100,  # measured (module docstring): not overlapping, 0.61x the fold time of half overlap, -1.4 WA [-3.6, +0.7]
        gan_size=8,  # measured: D=64 takes about 45 s per generator step on 2 cores (module docstring)
        gan_batch_size=32,
        wavegan_steps=20,
        specgan_steps=20,
        gan_checkpoint_every=5,
    ),
    "paper": Profile(
        "paper",
        "The paper's hyperparameters exactly: Adam 1e-4, batch 16, dropout 0.5, 5 folds (GPU-days).",
        mixed_precision=True,
    ),
}
DEFAULT_PROFILE = "cpu"


def get_profile(name: str | Profile) -> Profile:
    """Return the profile called ``name``; a :class:`ParameterError` lists the allowed names."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ParameterError(f"profile={name!r}; allowed: {', '.join(PROFILES)}") from None
