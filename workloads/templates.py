"""The 26 job templates of the Gavel workload, in the order seeded generation draws from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobTemplate:
    """One kind of training job: its model name and how it would be launched.

    Only ``model`` and ``distributed`` matter to the simulation; the command
    fields are metadata carried into traces.
    """

    model: str
    command: str
    working_directory: str
    num_steps_arg: str
    needs_data_dir: bool
    distributed: bool


# One row per model family: name, batch sizes (in draw order), command (with {batch}),
# working directory, steps argument, whether it can run on several GPUs.
_FAMILIES: tuple[tuple[str, tuple[int, ...], str, str, str, bool], ...] = (
    (
        "ResNet-18",
        (16, 32, 64, 128, 256),
        "python3 main.py --data_dir=data/cifar10 --batch_size {batch}",
        "workloads/pytorch/image_classification/cifar10",
        "--num_steps",
        True,
    ),
    (
        "ResNet-50",
        (16, 32, 64, 128),
        "python3 main.py --arch resnet50 --batch-size {batch} data/imagenet",
        "workloads/pytorch/image_classification/imagenet",
        "--num_minibatches",
        True,
    ),
    (
        "Transformer",
        (16, 32, 64, 128, 256),
        "python3 train.py -data data/translation/multi30k.pt -batch_size {batch}",
        "workloads/pytorch/translation",
        "-step",
        True,
    ),
    (
        "LM",
        (5, 10, 20, 40, 80),
        "python3 main.py --cuda --data data/wikitext2 --batch_size {batch}",
        "workloads/pytorch/language_modeling",
        "--steps",
        True,
    ),
    (
        "Recommendation",
        (512, 1024, 2048, 4096, 8192),
        "python3 train.py --data_dir data/ml-20m --batch_size {batch}",
        "workloads/pytorch/recommendation",
        "-n",
        False,
    ),
)

_SINGLES = (
    JobTemplate(
        model="A3C",
        command="python3 main.py --env PongDeterministic-v4 --workers 4",
        working_directory="workloads/pytorch/rl",
        num_steps_arg="--max_steps",
        needs_data_dir=False,
        distributed=False,
    ),
    JobTemplate(
        model="CycleGAN",
        command="python3 cyclegan.py --dataset_path data/monet2photo --decay_epoch 0",
        working_directory="workloads/pytorch/cyclegan",
        num_steps_arg="--n_steps",
        needs_data_dir=True,
        distributed=False,
    ),
)

TEMPLATES: tuple[JobTemplate, ...] = (
    *(
        JobTemplate(
            model=f"{family} (batch size {batch})",
            command=command.format(batch=batch),
            working_directory=workdir,
            num_steps_arg=steps_arg,
            needs_data_dir=True,
            distributed=distributed,
        )
        for family, batches, command, workdir, steps_arg, distributed in _FAMILIES
        for batch in batches
    ),
    *_SINGLES,
)
"""All templates, in the exact order the seeded generator chooses from."""

_BY_MODEL: dict[str, JobTemplate] = {t.model: t for t in TEMPLATES}


def template_for(model: str) -> JobTemplate | None:
    """The template whose model name is ``model``, or None if there is none."""
    return _BY_MODEL.get(model)
